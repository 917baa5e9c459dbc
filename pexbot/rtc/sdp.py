"""SDP text munging, pure: what Pexip expects on the wire versus what aiortc can digest.

aiortc re-serialises every description from its own model, so anything Pexip needs that aiortc
does not model (``a=content``) is added to the text that is POSTed, never to what aiortc sees.
The other way round, remote SDP is cleaned of what aiortc's parser chokes on before it is
applied. Every function takes and returns SDP text; :class:`Sdp` is the line-level model they
share (it keeps unknown lines verbatim, so a round trip changes nothing it was not asked to).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pexbot.errors import NegotiationError
from pexbot.wire.base import CallType

Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
DIRECTIONS: tuple[Direction, ...] = ("sendrecv", "sendonly", "recvonly", "inactive")
#: The three m-lines of a Pexip call, in order: audio, main video, presentation video.
MediaRole = Literal["audio", "video", "slides"]
CONTENT: dict[MediaRole, str] = {"audio": "main", "video": "main", "slides": "slides"}
LinePredicate = Callable[[str], bool]


@dataclass
class MediaSection:
    """One ``m=`` section: its lines without line endings, the ``m=`` line first."""

    lines: list[str]

    @property
    def kind(self) -> str:
        return self.lines[0][2:].split(" ", 1)[0]

    @property
    def port(self) -> int:
        # "9" or "9/2" (a port count); Sdp.parse has checked the form.
        return int(self.lines[0].split(" ")[1].split("/", 1)[0])

    @property
    def formats(self) -> list[str]:
        return self.lines[0].split(" ")[3:]

    def set_formats(self, formats: Sequence[str]) -> None:
        head = self.lines[0].split(" ")[:3]
        self.lines[0] = " ".join([*head, *formats])

    def values(self, name: str) -> list[str]:
        """The values of every ``a=<name>:<value>`` line (``""`` for a bare ``a=<name>``)."""
        out = []
        for line in self.lines[1:]:
            attr, value = split_attribute(line)
            if attr == name:
                out.append(value or "")
        return out

    def value(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None

    @property
    def mid(self) -> str | None:
        return self.value("mid")

    @property
    def direction(self) -> Direction | None:
        for line in self.lines[1:]:
            attr, value = split_attribute(line)
            if value is None and attr in DIRECTIONS:
                return attr
        return None

    def drop_lines(self, predicate: LinePredicate) -> None:
        self.lines[1:] = [line for line in self.lines[1:] if not predicate(line)]

    def insert_after(self, name: str, new_lines: Sequence[str]) -> None:
        """Insert ``new_lines`` after the first ``a=<name>`` line (or at the end)."""
        for i, line in enumerate(self.lines):
            if i and split_attribute(line)[0] == name:
                self.lines[i + 1 : i + 1] = list(new_lines)
                return
        self.lines.extend(new_lines)


@dataclass
class Sdp:
    """A session description as lines: session part plus media sections."""

    session: list[str] = field(default_factory=list)
    media: list[MediaSection] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Sdp:
        sdp = cls()
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith("m="):
                _check_media_line(line, len(sdp.media))
                sdp.media.append(MediaSection([line]))
            elif sdp.media:
                sdp.media[-1].lines.append(line)
            else:
                sdp.session.append(line)
        return sdp

    def __str__(self) -> str:
        lines = [*self.session, *(line for m in self.media for line in m.lines)]
        return "\r\n".join(lines) + "\r\n"

    def session_value(self, name: str) -> str | None:
        for line in self.session:
            attr, value = split_attribute(line)
            if attr == name:
                return value or ""
        return None

    def bundle(self) -> list[str]:
        """The mids of the first ``a=group:BUNDLE`` (empty when there is none)."""
        for line in self.session:
            attr, value = split_attribute(line)
            if attr == "group" and value and value.split()[0] == "BUNDLE":
                return value.split()[1:]
        return []

    def ice_credentials(self, index: int) -> tuple[str | None, str | None]:
        """(ufrag, pwd) of one section, falling back to the session level."""
        section = self.media[index]
        ufrag = section.value("ice-ufrag") or self.session_value("ice-ufrag")
        pwd = section.value("ice-pwd") or self.session_value("ice-pwd")
        return ufrag, pwd


_MEDIA_LINE = re.compile(r"m=[a-z]+ [0-9]{1,5}(/[0-9]{1,5})? \S+( \S+)+")


def _check_media_line(line: str, index: int) -> None:
    """Remote SDP comes from the network: a broken ``m=`` line is a negotiation failure, typed,
    rather than an IndexError deep in the munging."""
    if not _MEDIA_LINE.fullmatch(line.rstrip()):
        raise NegotiationError(f"malformed SDP: media line {index} is {line[:60]!r}")


def split_attribute(line: str) -> tuple[str | None, str | None]:
    """``a=name:value`` → (name, value); ``a=flag`` → (flag, None); other lines → (None, None)."""
    if not line.startswith("a="):
        return None, None
    name, sep, value = line[2:].partition(":")
    return name, (value if sep else None)


# --- offer shape and a=content ------------------------------------------------------------


def offer_roles(media_type: CallType = "video", present: str | None = None) -> list[MediaRole]:
    """The m-lines to offer: ``video`` = audio + video + slides, ``video-only`` = audio + video,
    ``audio`` = audio. ``present="main"`` asks for presentation inside main video: no slides."""
    if media_type == "audio":
        return ["audio"]
    if media_type == "video-only" or present == "main":
        return ["audio", "video"]
    return ["audio", "video", "slides"]


def section_roles(sdp_text: str) -> list[MediaRole | None]:
    """The role of each m-line of an offer: ``a=content:slides`` marks presentation; without
    it the first video is main and a later one slides. Other kinds (data) get None."""
    roles: list[MediaRole | None] = []
    for section in Sdp.parse(sdp_text).media:
        role: MediaRole | None = None
        if section.kind == "audio" and "audio" not in roles:
            role = "audio"
        elif section.kind == "video":
            slides = section.value("content") == "slides" or "video" in roles
            role = "slides" if slides and "slides" not in roles else None
            if not slides and "video" not in roles:
                role = "video"
        roles.append(role)
    return roles


def add_content(sdp_text: str, roles: Sequence[MediaRole | None]) -> str:
    """Put ``a=content:main|slides`` right after each section's ``a=mid`` line, by position
    (Pexip tells presentation from main video by it; aiortc does not model it)."""
    sdp = Sdp.parse(sdp_text)
    for section, role in zip(sdp.media, roles, strict=False):
        if role is None:
            continue
        section.drop_lines(is_attr("content"))
        section.insert_after("mid", [f"a=content:{CONTENT[role]}"])
    return str(sdp)


def set_direction(sdp_text: str, index: int, direction: Direction) -> str:
    """Set the direction attribute of section ``index``."""
    sdp = Sdp.parse(sdp_text)
    section = sdp.media[index]
    section.drop_lines(lambda line: split_attribute(line)[0] in DIRECTIONS)
    section.lines.insert(1 + _after_connection(section), f"a={direction}")
    return str(sdp)


def _after_connection(section: MediaSection) -> int:
    # Direction goes after c= and b= lines, where aiortc and browsers put it.
    n = 0
    for line in section.lines[1:]:
        if line.startswith(("c=", "b=", "i=")):
            n += 1
        else:
            break
    return n


def is_attr(*names: str) -> LinePredicate:
    """A predicate matching ``a=<name>`` lines for any of ``names``."""

    def predicate(line: str) -> bool:
        return split_attribute(line)[0] in names

    return predicate


# --- candidates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionCandidates:
    """The ICE candidates and credentials of one m-section."""

    index: int
    mid: str | None
    ufrag: str | None
    pwd: str | None
    candidates: list[str]  # each "candidate:..." (no "a=")
    complete: bool  # a=end-of-candidates was present


def extract_candidates(sdp_text: str) -> list[SectionCandidates]:
    """Per-section candidates and ICE credentials (what trickle ICE sends one by one)."""
    sdp = Sdp.parse(sdp_text)
    out = []
    for i, section in enumerate(sdp.media):
        ufrag, pwd = sdp.ice_credentials(i)
        out.append(
            SectionCandidates(
                index=i,
                mid=section.mid,
                ufrag=ufrag,
                pwd=pwd,
                candidates=[f"candidate:{v}" for v in section.values("candidate")],
                complete=section.value("end-of-candidates") is not None,
            )
        )
    return out


def strip_candidates(sdp_text: str) -> str:
    """Remove candidates and end-of-candidates, as an offer sent before trickling looks."""
    sdp = Sdp.parse(sdp_text)
    for section in sdp.media:
        section.drop_lines(is_attr("candidate", "end-of-candidates"))
    return str(sdp)


def sections_without_ssrc(sdp_text: str) -> list[str]:
    """Mids of audio/video sections that will send to us but name no SSRC: aiortc routes
    incoming RTP by SSRC, so such a section delivers nothing."""
    sdp = Sdp.parse(sdp_text)
    missing = []
    for i, section in enumerate(sdp.media):
        sends = section.direction in (None, "sendrecv", "sendonly")
        if section.kind in ("audio", "video") and section.port != 0 and sends:
            if not section.values("ssrc"):
                missing.append(section.mid or str(i))
    return missing


def all_rejected(sdp_text: str) -> bool:
    """Every m-line refused (port 0), as a signalling-only node answers."""
    return all(s.port == 0 for s in Sdp.parse(sdp_text).media)


def mids(sdp_text: str) -> list[str | None]:
    return [s.mid for s in Sdp.parse(sdp_text).media]


def directions(sdp_text: str) -> list[Direction | None]:
    return [s.direction for s in Sdp.parse(sdp_text).media]
