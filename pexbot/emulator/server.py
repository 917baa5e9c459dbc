"""The :class:`Emulator`: an Infinity-compatible node on a local port.

::

    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=["meet"], host_pin="1234")])
    async with Emulator(config, host="127.0.0.1", port=0) as emu:
        emu.base_url   # "http://127.0.0.1:PORT"
        emu.faults     # fault injection (.faults module)
        emu.traffic    # recorded exchanges (.traffic module); emu.traffic.events: events sent
        emu.node       # domain state: conferences, participants, released tokens...
        emu.node.statistics   # statistics clients posted, by participant (.call_stats)
        emu.node.direct_media # direct-media legs and the path relay (.direct_media)

Media: by default every ``/calls`` is answered by aiortc and the conference is transcoded
(each participant gets a layout of the others and their audio mix, see :mod:`.compositor`);
``media="relay"`` relays 1:1, ``media="none"`` answers signalling only, or pass any
:class:`~.media.MediaBackend`. ``media_impairment=Impairment(loss_percent=5, delay_ms=200,
jitter_ms=50)`` puts a relay with that loss, delay and jitter in front of the backend's media
ports (:mod:`.media.impaired_path`; ``emu.media.relay`` also blocks a transcoded call's path).

Each emulator owns all its state and tasks (no module-level state), so a test may run many in
one process. ``aclose`` ends the event streams, stops the server, cancels every timer and
closes the media backend; it is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

from pexbot.emulator.conference.calls import drop_call
from pexbot.emulator.conference.faults import Faults
from pexbot.emulator.conference.model import Participant
from pexbot.emulator.conference.node import Node
from pexbot.emulator.conference.timers import Timers
from pexbot.emulator.http.app import build_app
from pexbot.emulator.http.traffic import Traffic
from pexbot.emulator.media.backend import MediaBackend, MediaChoice
from pexbot.emulator.media.choice import make_media_backend
from pexbot.emulator.media.impaired_path import ImpairedPathBackend
from pexbot.emulator.media.impairment import Impairment

from .config import EmulatorConfig

log = logging.getLogger(__name__)


class Emulator:
    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        media: MediaBackend | MediaChoice | None = None,
        media_size: tuple[int, int] = (640, 360),
        media_fps: float = 15.0,
        now: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        ssl_context: ssl.SSLContext | None = None,
        media_impairment: Impairment | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        #: serve HTTPS with this (server-side) context; plain HTTP when None
        self.ssl_context = ssl_context
        self._requested_port = port
        if media is None or isinstance(media, str):
            media = make_media_backend(media or "compose", size=media_size, fps=media_fps)
        if media_impairment is not None:
            media = ImpairedPathBackend(media, media_impairment)
        self.media: MediaBackend = media
        self.timers = Timers()
        self.node = Node(self.config, self.media, self.timers, now=now, wall=wall)
        self.faults = Faults(self.node)
        self.traffic = Traffic(self.config.traffic_limit, self.node.bus.log)
        self.app = build_app(self.node, self.faults, self.traffic)
        self._runner: web.AppRunner | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._port: int | None = None
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> Emulator:
        if self._runner is not None:
            return self
        if self._closed:
            raise RuntimeError("this emulator was closed; create a new one")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(
                runner, self.host, self._requested_port, ssl_context=self.ssl_context
            )
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
        log.info("emulator listening on %s", self.base_url)
        return self

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.wait({self._sweeper})  # (suppressing CancelledError would eat ours)
        self.node.bus.close_all("emulator shutting down")
        self.node.direct_media.close()  # held direct-media requests end; relay ports close
        if self._runner is not None:
            await self._runner.cleanup()
        await self.timers.aclose()
        await self.media.aclose()

    close = aclose

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _sweep_forever(self) -> None:
        interval = self.config.expiry_sweep_interval
        while True:
            await asyncio.sleep(interval)
            try:
                self.node.sweep()
            except Exception:
                log.exception("token expiry sweep failed")

    # -- addresses and convenience ----------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    def conference_url(self, alias: str) -> str:
        return f"{self.base_url}/api/client/v2/conferences/{alias}"

    def drop_call(
        self, participant_uuid: str, call_uuid: str, reason: str = "Call disconnected"
    ) -> bool:
        """The node ends a media call on its own (``call_disconnected`` to the participant)."""
        participant = self.node.participants.get(participant_uuid)
        return participant is not None and drop_call(self.node, participant, call_uuid, reason)

    def participants(self, alias: str | None = None) -> list[Participant]:
        """Current participants (of one conference, by alias, or all)."""
        if alias is None:
            return list(self.node.participants.values())
        conference = self.node.conference_by_alias(alias)
        return conference.participants() if conference else []
