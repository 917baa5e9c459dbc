"""ICE for a media call: servers from request_token, trickled candidates, connect timeouts.

aiortc gathers every local candidate inside ``setLocalDescription`` and has no
``icecandidate`` event, so trickling means reading the gatherers afterwards. It never gives
up on its own in reasonable time (a dead path took over a minute to fail), so connecting is
bounded by our own timeouts, which end in :class:`~pexbot.errors.IceTimeout` /
:class:`~pexbot.errors.DtlsTimeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceCandidate,
    RTCIceServer,
    RTCPeerConnection,
)
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.rtcicetransport import parse_stun_turn_uri
from aiortc.sdp import candidate_from_sdp, candidate_to_sdp

from pexbot import wire
from pexbot.errors import DtlsTimeout, IceTimeout

log = logging.getLogger(__name__)

#: seconds between looks at the connection's states if no change event came (a backstop)
_POLL = 0.25


def ice_servers(
    stun: Sequence[wire.StunServer] | None, turn: Sequence[wire.TurnServer] | None
) -> list[RTCIceServer]:
    """The ICE servers request_token gave, and nothing else.

    Never ``None``: aiortc reads that as "use Google's public STUN server". URLs aiortc cannot
    parse are dropped with a warning rather than failing the call. aiortc uses the first STUN
    and the first usable TURN server only.
    """
    servers: list[RTCIceServer] = []
    for s in stun or ():
        if _parsable(s.url):
            servers.append(RTCIceServer(urls=s.url))
    for t in turn or ():
        urls = [u for u in t.urls if _parsable(u)]
        if urls:
            servers.append(RTCIceServer(urls=urls, username=t.username, credential=t.credential))
    return servers


def _parsable(url: str) -> bool:
    try:
        parse_stun_turn_uri(url)
    except ValueError:
        log.warning("ignoring ICE server URL aiortc cannot use: %s", url.split("?", 1)[0])
        return False
    return True


def configuration(servers: Sequence[RTCIceServer], *, relay_only: bool = False) -> RTCConfiguration:
    """The peer connection configuration of a Pexip call.

    MAX_BUNDLE puts all three m-lines on one transport from the start (BALANCED leaves the
    slides line on a dead transport, aiortc #1414) and gathers once; remote candidates are then
    copied into every bundled section before they are applied (aiortc #1437). Relay-only uses
    aiortc's own transport policy: host and server-reflexive candidates are never gathered.
    """
    policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(
        iceServers=list(servers),
        iceTransportPolicy=policy,
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
    )


def local_candidates(
    pc: RTCPeerConnection, *, relay_only: bool = False
) -> list[wire.NewCandidateBody]:
    """Our gathered candidates as ``new_candidate`` bodies, one transport at a time, labelled
    with the mid of the first m-line on that transport and its ufrag (never the pwd, like
    Pexip's client)."""
    bodies: list[wire.NewCandidateBody] = []
    seen: set[int] = set()
    for transceiver in pc.getTransceivers():
        ice = transceiver.receiver.transport.transport
        if id(ice) in seen or transceiver.mid is None:
            continue
        seen.add(id(ice))
        gatherer = ice.iceGatherer
        ufrag = gatherer.getLocalParameters().usernameFragment
        for candidate in gatherer.getLocalCandidates():
            if relay_only and candidate.type != "relay":
                continue
            bodies.append(
                wire.NewCandidateBody(
                    candidate="candidate:" + candidate_to_sdp(candidate),
                    mid=transceiver.mid,
                    ufrag=ufrag,
                )
            )
    return bodies


def end_of_candidates() -> wire.NewCandidateBody:
    """The end-of-candidates marker Pexip's client sends after the ack."""
    return wire.NewCandidateBody(candidate="", mid="0")


def remote_candidate(candidate: str, mid: str | None) -> RTCIceCandidate | None:
    """Parse a trickled candidate (``candidate:...`` or bare); ``""`` (end) gives None."""
    value = candidate.strip().removeprefix("a=").removeprefix("candidate:")
    if not value:
        return None
    parsed = candidate_from_sdp(value)
    parsed.sdpMid = mid
    return parsed


def transport_mid(pc: RTCPeerConnection, mid: str | None) -> str | None:
    """The mid aiortc accepts a remote candidate for: with BUNDLE every m-line but the first
    shares the first one's transport, and aiortc ignores candidates labelled with the others."""
    transceivers = pc.getTransceivers()
    for t in transceivers:
        if t.mid == mid and not t._bundled:
            return mid
    owner = next((t for t in transceivers if t.mid is not None and not t._bundled), None)
    return owner.mid if owner is not None else mid


async def wait_connected(
    pc: RTCPeerConnection, *, ice_timeout: float, dtls_timeout: float
) -> tuple[float, float]:
    """Wait for ICE, then DTLS; return how long each took (seconds).

    Raises IceTimeout when ICE does not complete (or fails) within ``ice_timeout``, and
    DtlsTimeout when DTLS does not connect (or fails) within ``dtls_timeout`` after that.
    Woken by the connection's state changes (a poll would add up to its period to every call
    set-up); :data:`_POLL` is only a backstop.
    """
    changed = asyncio.Event()
    pc.on("iceconnectionstatechange", changed.set)
    pc.on("connectionstatechange", changed.set)
    try:
        start = time.monotonic()
        while True:
            changed.clear()
            if pc.iceConnectionState == "completed":
                break
            elapsed = time.monotonic() - start
            if pc.iceConnectionState in ("failed", "closed"):
                raise IceTimeout(f"ICE {pc.iceConnectionState} after {elapsed:.1f} s")
            if elapsed > ice_timeout:
                raise IceTimeout(
                    f"ICE still {pc.iceConnectionState} after {ice_timeout:.1f} s "
                    f"(remote candidates: {_remote_candidate_count(pc)})"
                )
            await _changed(changed, ice_timeout - elapsed)
        ice_done = time.monotonic()
        while True:
            changed.clear()
            if pc.connectionState == "connected":
                break
            elapsed = time.monotonic() - ice_done
            if pc.connectionState in ("failed", "closed"):
                raise DtlsTimeout(f"DTLS {pc.connectionState} {elapsed:.1f} s after ICE completed")
            if elapsed > dtls_timeout:
                raise DtlsTimeout(
                    f"DTLS still {pc.connectionState} {dtls_timeout:.1f} s after ICE completed"
                )
            await _changed(changed, dtls_timeout - elapsed)
        return ice_done - start, time.monotonic() - ice_done
    finally:
        pc.remove_listener("iceconnectionstatechange", changed.set)
        pc.remove_listener("connectionstatechange", changed.set)


async def _changed(changed: asyncio.Event, remaining: float) -> None:
    """Until a state change, the backstop poll or the deadline (a little past it)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(min(_POLL, max(remaining, 0.0) + 0.001)):
            await changed.wait()


def _remote_candidate_count(pc: RTCPeerConnection) -> int:
    seen: set[int] = set()
    count = 0
    for t in pc.getTransceivers():
        ice = t.receiver.transport.transport
        if id(ice) not in seen:
            seen.add(id(ice))
            count += len(ice.getRemoteCandidates())
    return count
