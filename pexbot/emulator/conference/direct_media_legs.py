"""The pure half of direct-media brokering: one participant's call (a :class:`Leg`), the ICE
credentials of the SDPs it sent, and where each of its trickled candidates must go.

Candidate rule (official-client-flow §18: the official client still POSTs the candidates of
the peer connection it threw away, old ufrag, before ``new_offer`` arrives):

- a candidate whose ufrag is that of the leg's SDP the far end holds (``current``) is relayed;
- one whose ufrag belongs to an SDP that was discarded or superseded (``spent``) is dropped;
- one with an ufrag not seen yet, or any candidate while the leg is answering an offer it has
  not acked, waits in a small buffer (``early``): it belongs to the answer that ``ack {sdp}``
  is about to bring; the buffer is flushed (matching ones relayed, the rest dropped) then.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from pexbot import wire
from pexbot.wire.events import CandidateData

from .model import Call

EARLY_CANDIDATES = 64

_UFRAG = re.compile(r"^a=ice-ufrag:(\S+)", re.MULTILINE)
_PWD = re.compile(r"^a=ice-pwd:(\S+)", re.MULTILINE)
_CANDIDATE_UFRAG = re.compile(r"\bufrag (\S+)")


@dataclass(frozen=True)
class IceCredentials:
    ufrag: str
    pwd: str


def ice_credentials(sdp: str) -> IceCredentials | None:
    """The first ``a=ice-ufrag`` / ``a=ice-pwd`` of an SDP (BUNDLE: all m-lines share them)."""
    ufrag, pwd = _UFRAG.search(sdp), _PWD.search(sdp)
    if ufrag is None:
        return None
    return IceCredentials(ufrag.group(1).strip(), pwd.group(1).strip() if pwd else "")


def candidate_ufrag(body: wire.NewCandidateBody) -> str | None:
    """The ufrag a trickled candidate names: the body field, else Chromium's ``ufrag`` attribute."""
    if body.ufrag:
        return body.ufrag
    found = _CANDIDATE_UFRAG.search(body.candidate)
    return found.group(1) if found else None


@dataclass(eq=False)
class Held:
    """A request (``/calls`` or ``update``) held until the far end acks with its answer."""

    kind: Literal["calls", "update"]
    future: asyncio.Future[str | None]

    def settle(self, answer: str | None) -> None:
        """``answer`` None: no answer will come (far end left, ignored the offer, timed out)."""
        if not self.future.done():
            self.future.set_result(answer)


class Route(Enum):
    RELAY = "relay"
    BUFFER = "buffer"
    DROP = "drop"


@dataclass(eq=False)
class Leg:
    """One media participant's direct-media call."""

    conference_id: str
    participant_uuid: str
    call: Call
    relayed: bool  # candidates go through the path relay (direct_media_relay)
    current: IceCredentials | None = None  # of this leg's SDP that the far end holds
    spent: set[str] = field(default_factory=set)  # ufrags of SDPs discarded or superseded
    contact: bool = False  # an SDP went between this leg and the far end
    negotiated: bool = False  # an offer/answer with the current far end completed
    held: Held | None = None  # this leg's own request, waiting for the far end's answer
    early: deque[wire.NewCandidateBody] = field(
        default_factory=lambda: deque(maxlen=EARLY_CANDIDATES)
    )

    @property
    def call_uuid(self) -> str:
        return self.call.uuid

    @property
    def audio_only(self) -> bool:
        return self.call.media_type == "audio"

    def adopt(self, sdp: str) -> list[wire.NewCandidateBody]:
        """The far end now holds ``sdp`` of this leg: its credentials are current; the early
        candidates that belong to it are returned (to relay), the others dropped."""
        creds = ice_credentials(sdp)
        if self.current is not None:
            self.spent.add(self.current.ufrag)
        self.current = creds
        if creds is not None:
            self.spent.discard(creds.ufrag)
        ready = [
            c for c in self.early if creds is not None and candidate_ufrag(c) in (None, creds.ufrag)
        ]
        self.early.clear()
        return ready

    def discard(self, sdp: str) -> None:
        """An SDP of this leg that nobody will use: its candidates are dropped from now on."""
        creds = ice_credentials(sdp)
        if creds is not None and (self.current is None or creds.ufrag != self.current.ufrag):
            self.spent.add(creds.ufrag)

    def reset(self) -> None:
        """The far end is gone: back to waiting for a new one."""
        if self.current is not None:
            self.spent.add(self.current.ufrag)
        self.current = None
        self.contact = self.negotiated = False
        self.early.clear()

    def route(self, body: wire.NewCandidateBody, *, answering: bool) -> Route:
        """Where a candidate this leg POSTed goes (``answering``: it owes the far end an ack)."""
        ufrag = candidate_ufrag(body)
        current = self.current.ufrag if self.current is not None else None
        if ufrag is not None and ufrag in self.spent:
            return Route.DROP
        if current is not None and (ufrag == current or (ufrag is None and not answering)):
            return Route.RELAY
        if answering or (current is not None and ufrag is not None):
            return Route.BUFFER  # of an SDP the far end is about to get
        return Route.DROP  # a waiting leg: the offer these belong to was discarded

    def candidate_event(self, body: wire.NewCandidateBody, candidate: str) -> dict[str, object]:
        """``new_candidate`` data for the far end: ufrag/pwd filled in from this leg's SDP."""
        creds = self.current
        return CandidateData(
            candidate=candidate,
            mid=body.mid,
            ufrag=candidate_ufrag(body) or (creds.ufrag if creds else None),
            pwd=body.pwd or (creds.pwd if creds else None),
        ).body()
