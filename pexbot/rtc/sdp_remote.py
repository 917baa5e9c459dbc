"""Remote SDP for aiortc: clean what its parser chokes on, spread candidates across a bundle.

aiortc raises on an ``a=fmtp`` whose payload type has no ``a=rtpmap``, on a bare ``a=ssrc:N``,
and on a minimal rejected (port 0) m-section; it cannot use ICE-TCP or host-name candidates; and
it reads the remote candidates of a shared (bundled) transport from the last of its sections
only (aiortc #1437), while browsers and Infinity list them in the first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection

from .sdp import MediaSection, Sdp, is_attr, split_attribute


def copy_candidates_to_bundle(sdp_text: str, mids: Collection[str | None] | None = None) -> str:
    """Give every section that shares one transport the union of their candidates.

    aiortc reads remote candidates of a shared transport from the *last* of its sections only,
    while browsers and Infinity list them in the first (aiortc #1437). The sharing sections are
    the BUNDLE group by default; an offerer with MAX_BUNDLE shares one transport across all its
    m-lines, a rejected one outside the group included, and passes every mid.
    """
    sdp = Sdp.parse(sdp_text)
    sharing = sdp.bundle() if mids is None else list(mids)
    bundled = [s for s in sdp.media if s.mid is not None and s.mid in sharing]
    if len(bundled) < 2:
        return sdp_text
    union: list[str] = []
    complete = False
    for section in bundled:
        for value in section.values("candidate"):
            if value not in union:
                union.append(value)
        complete = complete or section.value("end-of-candidates") is not None
    for section in bundled:
        section.drop_lines(is_attr("candidate", "end-of-candidates"))
        extra = [f"a=candidate:{v}" for v in union]
        if complete:
            extra.append("a=end-of-candidates")
        section.lines.extend(extra)
    return str(sdp)


def candidate_usable(candidate: str) -> bool:
    """Whether aiortc can use a candidate line (with or without ``a=`` / ``candidate:``):
    UDP only (no ICE-TCP), and an IP address or an mDNS ``.local`` name (aioice resolves
    those); other host names are not resolved."""
    value = candidate.removeprefix("a=").removeprefix("candidate:")
    bits = value.split()
    if len(bits) < 8 or bits[2].lower() != "udp":
        return False
    address = bits[4]
    if address.endswith(".local"):
        return True
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def candidate_type(candidate: str) -> str | None:
    """The ``typ`` of a candidate line (host, srflx, prflx, relay)."""
    bits = candidate.split()
    for i, bit in enumerate(bits[:-1]):
        if bit == "typ":
            return bits[i + 1]
    return None


# --- remote SDP clean-up -------------------------------------------------------------------


def sanitise_remote(sdp_text: str, *, local_offer: str | None = None) -> str:
    """Make a remote description digestible by aiortc.

    Drops ``b=TIAS``, ``a=fmtp`` / ``a=rtcp-fb`` for payload types with no ``a=rtpmap``, bare
    ``a=ssrc:N`` lines, and candidates aiortc cannot use (TCP, host names). A rejected
    (port 0) section that is too bare for aiortc is rebuilt as an ``inactive`` copy of our own
    offer's section, with the remote's ICE and DTLS parameters, when ``local_offer`` is given.
    """
    sdp = Sdp.parse(sdp_text)
    sdp.session = [line for line in sdp.session if not line.startswith("b=TIAS")]
    for section in sdp.media:
        section.drop_lines(lambda line: line.startswith("b=TIAS"))
        _drop_orphan_payload_lines(section)
        section.drop_lines(_is_bare_ssrc)
        section.drop_lines(
            lambda line: split_attribute(line)[0] == "candidate" and not candidate_usable(line)
        )
    if local_offer is not None:
        offer = Sdp.parse(local_offer)
        for i, section in enumerate(sdp.media):
            if section.port == 0 and i < len(offer.media) and _too_bare(sdp, i):
                sdp.media[i] = _rebuild_rejected(sdp, i, offer.media[i])
    return str(sdp)


def _drop_orphan_payload_lines(section: MediaSection) -> None:
    if section.kind not in ("audio", "video"):
        return
    mapped = {v.split(" ", 1)[0] for v in section.values("rtpmap")}

    def orphan(line: str) -> bool:
        attr, value = split_attribute(line)
        if attr not in ("fmtp", "rtcp-fb") or value is None:
            return False
        pt = value.split(" ", 1)[0]
        return pt != "*" and pt not in mapped

    section.drop_lines(orphan)


def _is_bare_ssrc(line: str) -> bool:
    attr, value = split_attribute(line)
    return attr == "ssrc" and (value is None or " " not in value.strip())


def _too_bare(sdp: Sdp, index: int) -> bool:
    section = sdp.media[index]
    ufrag, pwd = sdp.ice_credentials(index)
    has_setup = section.value("setup") is not None or sdp.session_value("setup") is not None
    return (
        not ufrag
        or not pwd
        or not has_setup
        or section.value("rtcp-mux") is None
        or not section.values("rtpmap")
    )


_TRANSPORT_ATTRS = ("ice-ufrag", "ice-pwd", "ice-options", "fingerprint", "setup")
_CODEC_ATTRS = ("rtpmap", "fmtp", "rtcp-fb")


def _rebuild_rejected(sdp: Sdp, index: int, offered: MediaSection) -> MediaSection:
    donor = next((s for s in sdp.media if s.port != 0 and not _bare_transport(s)), None)
    transport: list[str] = []
    if donor is not None:
        transport = [line for line in donor.lines if split_attribute(line)[0] in _TRANSPORT_ATTRS]
    head = offered.lines[0].split(" ")
    lines = [" ".join([head[0], "0", *head[2:]]), "c=IN IP4 0.0.0.0", "a=inactive"]
    mid = sdp.media[index].mid or offered.mid
    if mid is not None:
        lines.append(f"a=mid:{mid}")
    lines.append("a=rtcp-mux")
    lines += [line for line in offered.lines if split_attribute(line)[0] in _CODEC_ATTRS]
    return MediaSection(lines + transport)


def _bare_transport(section: MediaSection) -> bool:
    return section.value("ice-ufrag") is None and section.value("fingerprint") is None
