"""The peer connections a media call goes through, one at a time.

aiortc can neither restart ICE nor take new remote ICE credentials, so a call recovering its
media, or answering a far end that restarted, does it on a new ``RTCPeerConnection``
(:class:`~pexbot.rtc.peer.Peer`). :class:`PeerConnections` makes each one with the call's
long-lived tracks (:class:`~pexbot.call.media.CallMedia`) and data channel, keeps the current
one, and lets through only that one's remote tracks and candidates: a connection being
replaced ends without the application seeing it.

Which connection to make when is the negotiator's business (:mod:`pexbot.call.negotiation`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiortc import RTCIceServer, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from pexbot.rtc import aiortc_compat, ice
from pexbot.rtc.datachannel import PexChannel
from pexbot.rtc.peer import Peer
from pexbot.rtc.sdp import MediaRole

from .media import CallMedia
from .options import CallOptions

log = logging.getLogger("pexbot.call")  # one logger for every part of a call


class PeerConnections:
    """The current peer connection of a call and the making of the next; see the module
    docstring."""

    def __init__(
        self,
        options: CallOptions,
        roles: list[MediaRole],
        media: CallMedia,
        channel: PexChannel | None = None,
    ) -> None:
        self._options = options
        self._roles = roles
        self._media = media
        self._channel = channel
        #: what every new connection is configured with (the node may add TURN servers)
        self.ice_servers: list[RTCIceServer] = list(options.ice_servers)
        #: connections made so far: statistics tell a restarted sender's counts by it
        self.generation = 0
        self._current: Peer | None = None
        # Kept after the call closed: its final states and statistics stay readable.
        self._last_pc: RTCPeerConnection | None = None

    def __repr__(self) -> str:
        return f"PeerConnections(#{self.generation}, {self._current!r})"

    @property
    def current(self) -> Peer | None:
        """The connection media flows on (or is being negotiated on); None before the first."""
        return self._current

    @property
    def last_pc(self) -> RTCPeerConnection | None:
        """The latest ``RTCPeerConnection``, closed or not."""
        return self._last_pc

    def new(self) -> Peer:
        """A new connection with the call's tracks, the current one from now on (the caller
        closes the previous one: make before break)."""
        self.generation += 1
        peer = Peer(
            self.generation,
            ice.configuration(self.ice_servers, relay_only=self._options.relay_only),
            roles=self._roles,
            outgoing=self._media.outgoing,
            counters=self._media.counters,
            on_track=self._track_arrived,
            channel=self._channel,
            video_codec=self._options.video_codec,
            munge_remote=not self._options.direct_media,
            encoded_receive=self._options.encoded_receive,
            fast_rtp=self._options.fast_rtp,
            fast_send=self._options.fast_send,
            fast_repair=self._options.fast_repair,
        )
        self._current = peer
        self._last_pc = peer.pc
        return peer

    async def replace(self) -> Peer:
        """Close the current connection (break before make), then make the next."""
        await self.close()
        return self.new()

    async def close(self) -> None:
        """Close the current connection, if any (the call's tracks stay). Idempotent."""
        if self._current is not None:
            await self._current.close()

    def add_ice_servers(self, servers: Iterable[RTCIceServer]) -> None:
        """Servers for the connections made from now on."""
        self.ice_servers += servers

    def stale_candidate(self, ufrag: str | None) -> bool:
        """A trickled candidate names ICE credentials other than the current connection's
        remote ones: it was meant for an earlier connection."""
        peer = self._current
        if not ufrag or peer is None or not peer.remote_applied:
            return False
        return ufrag != peer.remote_ice_ufrag()

    async def add_candidate(self, candidate: str, mid: str | None) -> None:
        """A candidate trickled by the far end (``""``: end of candidates); held back until
        a remote description is set."""
        peer = self._current
        if peer is not None and not peer.closed:
            await peer.add_candidate(candidate, mid)

    def selected_pair(self) -> tuple[aiortc_compat.Address, aiortc_compat.Address] | None:
        """(local, remote) address of the ICE pair in use on the latest connection."""
        pc = self._last_pc
        return aiortc_compat.selected_pair(pc) if pc is not None else None

    def _track_arrived(self, peer: Peer, role: MediaRole | None, track: MediaStreamTrack) -> None:
        if peer is not self._current:
            return  # a connection being replaced: its tracks end with it
        self._media.remote_track(role, track)
