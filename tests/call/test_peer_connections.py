"""The call's peer connections on their own: real aiortc connections (no network is used: no
offer is made), the call's media recording what reaches it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiortc import RTCIceServer
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack
from partkit import sdp

from pexbot.call.media import CallMedia
from pexbot.call.options import CallOptions
from pexbot.call.peers import PeerConnections
from pexbot.rtc.peer import Peer
from pexbot.rtc.sdp import MediaRole

ROLES: list[MediaRole] = ["audio", "video", "slides"]


class RecordingMedia(CallMedia):
    def __init__(self) -> None:
        super().__init__(ROLES)
        self.arrived: list[tuple[MediaRole | None, MediaStreamTrack]] = []

    def remote_track(self, role: MediaRole | None, track: MediaStreamTrack) -> None:
        self.arrived.append((role, track))


@pytest.fixture
async def made() -> AsyncIterator[list[Peer]]:
    """Every connection a test makes, closed after it."""
    peers: list[Peer] = []
    yield peers
    for peer in peers:
        await peer.close()


async def test_each_connection_is_the_next_generation_and_the_current_one(
    made: list[Peer],
) -> None:
    peers = PeerConnections(CallOptions(), ROLES, RecordingMedia())
    assert peers.current is None and peers.last_pc is None
    first = peers.new()
    made.append(first)
    assert first.generation == 1 and peers.current is first and peers.last_pc is first.pc
    second = await peers.replace()
    made.append(second)
    assert first.closed and not second.closed  # break before make
    assert second.generation == 2 and peers.current is second
    await peers.close()
    assert second.closed
    assert peers.last_pc is second.pc  # still readable after the call closed


async def test_only_the_current_connections_remote_tracks_reach_the_media(
    made: list[Peer],
) -> None:
    media = RecordingMedia()
    peers = PeerConnections(CallOptions(), ROLES, media)
    old = peers.new()
    new = peers.new()  # make before break: the old one still runs
    made += [old, new]
    old.pc.emit("track", AudioStreamTrack())  # as aiortc does for a remote track
    assert media.arrived == []
    track = AudioStreamTrack()  # on no m-line of ours: the media discards it
    new.pc.emit("track", track)
    assert media.arrived == [(None, track)]


async def test_ice_servers_the_node_adds_configure_the_next_connections(
    made: list[Peer],
) -> None:
    stun = RTCIceServer("stun:stun.example.com")
    turn = RTCIceServer("turn:turn.example.com", username="u", credential="p")
    options = CallOptions(ice_servers=(stun,), relay_only=True)
    peers = PeerConnections(options, ROLES, RecordingMedia())
    before = peers.new()
    peers.add_ice_servers([turn])
    after = peers.new()
    made += [before, after]
    assert before.configuration.iceServers == [stun]
    assert after.configuration.iceServers == [stun, turn]
    assert after.configuration.iceTransportPolicy.value == "relay"
    assert options.ice_servers == (stun,)


async def test_candidates_for_an_earlier_connection_are_told_apart(made: list[Peer]) -> None:
    peers = PeerConnections(CallOptions(), ROLES, RecordingMedia())
    assert not peers.stale_candidate("far1")  # no connection
    peer = peers.new()
    made.append(peer)
    assert not peers.stale_candidate("far0")  # nothing to compare with yet
    peer.remote_sdp, peer.remote_applied = sdp("far1"), True  # as the far end's offer left it
    assert peers.stale_candidate("far0")
    assert not peers.stale_candidate("far1")
    assert not peers.stale_candidate(None) and not peers.stale_candidate("")
