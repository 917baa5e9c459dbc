"""Locust drives pexbots: each Locust user is one bot in the conference (``pip install
'pexbot[load]'``; the locustfile is :mod:`.locustfile`, its path printed by
``pexbot load --locustfile``).

::

    locust -f "$(pexbot load --locustfile)" --master --host https://node.example.com \\
        --pexbot-alias meet.load --headless -u 1000 -r 10 -t 10m --csv load --expect-workers 4
    LOCUST_SKIP_MONKEY_PATCH=1 locust -f - --worker --master-host MASTER    # on each machine

Why the workers skip gevent's monkey patching: aiortc needs real asyncio over real sockets and
threads, which the patched standard library breaks. The bots of a worker process therefore run
on one asyncio loop in a real thread (:class:`~.bot_thread.BotLoop`), started when the first
user starts and closed on Locust's ``quit`` event; the master runs no bot and may patch.

A user's task submits its bot to that loop and, in a gevent-friendly poll, fires Locust request
events (type ``pexbot``) as the call goes: ``join`` (request_token to the roster),
``first_frame`` (from the bot's start), ``media_stall`` (a failure: no frame for
``--pexbot-stall-after`` seconds), and a failure at the step a failed bot failed at. Events are
fired from the greenlet, never from the loop's thread, so Locust's statistics stay its own.
When Locust stops the user (ramp-down, ``-t``, quit) the bot is told to leave and, past
``--pexbot-leave-timeout``, cancelled; a bot that fails or is ended by the node is replaced by
a new one after the user's ``wait_time``.

Options (on the master; Locust hands them to the workers), each also from its variable:
``--pexbot-alias`` (``PEXBOT_ALIAS``, default ``demo``), ``--pexbot-pin`` (``PEXBOT_PIN``),
``--pexbot-media`` (video, audio, none), ``--pexbot-width``/``-height``/``-fps``,
``--pexbot-name``, ``--pexbot-direct-media``, ``--pexbot-insecure``, ``--pexbot-ca-file``,
``--pexbot-stall-after``, ``--pexbot-leave-timeout``. The node is Locust's ``--host``.
"""

from __future__ import annotations

import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any

import gevent  # type: ignore[import-untyped]
from gevent import GreenletExit, monkey
from locust import User, constant, task
from locust.env import Environment
from locust.exception import StopUser

from pexbot.errors import ConfigError

from .bot_thread import BotHandle, BotLoop, BotReport, Report
from .load import BotFactory, BotMedia, LoadOptions, MediaBot
from .target import JoinTarget

log = logging.getLogger(__name__)

REQUEST_TYPE = "pexbot"
#: where the worker's loop hangs on Locust's Environment (one per process, owned by it)
_LOOP_ATTRIBUTE = "pexbot_bot_loop"
_MEDIA = ("video", "audio", "none")


@dataclass(frozen=True)
class UserSettings:
    alias: str = "demo"
    pin: str | None = None
    media: BotMedia = "video"
    width: int = 160
    height: int = 90
    fps: float = 10.0
    name: str = "pexbot-locust"
    direct_media: bool = False
    insecure: bool = False
    ca_file: str | None = None
    stall_after: float = 5.0
    leave_timeout: float = 15.0

    def __repr__(self) -> str:  # the PIN stays out
        return f"UserSettings(alias={self.alias!r}, media={self.media!r})"

    def verify_tls(self) -> bool | ssl.SSLContext:
        if self.insecure:
            return False
        if self.ca_file:
            try:
                return ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"--pexbot-ca-file {self.ca_file}: not usable ({exc})") from None
        return True

    def options(self, worker: int) -> LoadOptions:
        return LoadOptions(
            bots=1,
            duration=None,
            media=self.media,
            width=self.width,
            height=self.height,
            fps=self.fps,
            name_prefix=f"{self.name}-{worker}",
        )


def settings_of(parsed: Any) -> UserSettings:
    """The ``--pexbot-*`` options of Locust's parsed options (defaults where absent)."""
    base = UserSettings()
    values = {
        key: getattr(parsed, f"pexbot_{key}", getattr(base, key))
        for key in UserSettings.__dataclass_fields__
    }
    if values["media"] not in _MEDIA:
        raise ConfigError(f"--pexbot-media must be one of {', '.join(_MEDIA)}")
    return UserSettings(**values)


def add_arguments(parser: Any) -> None:
    """Locust's ``init_command_line_parser`` listener: the ``--pexbot-*`` options."""
    base = UserSettings()

    def option(name: str, **kwargs: Any) -> None:
        env = "PEXBOT_" + name.upper().replace("-", "_")
        parser.add_argument(f"--pexbot-{name}", env_var=env, **kwargs)

    option("alias", default=base.alias, help="conference alias (default demo)")
    option("pin", default=None, is_secret=True, help="host or guest PIN")
    option("media", default=base.media, choices=_MEDIA, help="what each bot sends (video)")
    option("width", type=int, default=base.width, help="bot pattern width (160)")
    option("height", type=int, default=base.height, help="bot pattern height (90)")
    option("fps", type=float, default=base.fps, help="bot pattern frame rate (10)")
    option("name", default=base.name, help="display name prefix (pexbot-locust)")
    option("direct-media", action="store_true", default=False, help="ask for direct media")
    option("insecure", action="store_true", default=False, help="do not verify TLS")
    option("ca-file", default=None, help="CA certificates (PEM) to verify the node with")
    option(
        "stall-after",
        type=float,
        default=base.stall_after,
        help="seconds without a frame reported as a media_stall failure (5)",
    )
    option(
        "leave-timeout",
        type=float,
        default=base.leave_timeout,
        help="seconds a stopped bot has to leave before it is cancelled (15)",
    )


def bot_loop(environment: Environment) -> BotLoop:
    """The worker process's bot loop: started on first use, closed on Locust's quit event."""
    loop: BotLoop | None = getattr(environment, _LOOP_ATTRIBUTE, None)
    if loop is not None:
        return loop
    if monkey.is_module_patched("threading") or monkey.is_module_patched("socket"):
        raise ConfigError(
            "pexbot's bots need the real standard library: start Locust workers with "
            "LOCUST_SKIP_MONKEY_PATCH=1 (gevent's patching breaks aiortc)"
        )
    loop = BotLoop().start()
    setattr(environment, _LOOP_ATTRIBUTE, loop)

    def close(**_: Any) -> None:
        loop.close()

    environment.events.quit.add_listener(close)  # type: ignore[no-untyped-call]
    return loop


def worker_index(environment: Environment) -> int:
    return int(getattr(environment.runner, "worker_index", 0) or 0)


class PexbotUser(User):
    """One bot per Locust user (see the module doc). Subclass it to change ``factory`` (the
    bot), ``wait_time`` (before a failed bot is replaced) or the settings."""

    abstract = True
    wait_time = constant(2.0)
    factory: BotFactory = MediaBot
    poll_every = 0.25

    def settings(self) -> UserSettings:
        return settings_of(self.environment.parsed_options)

    @task
    def call(self) -> None:
        try:
            settings = self.settings()
            if not self.host:
                raise ConfigError("give the Conferencing Node with --host (e.g. https://node)")
            target = JoinTarget(
                self.host,
                settings.alias,
                display_name=settings.name,
                pin=settings.pin,
                direct_media=settings.direct_media,
                verify_tls=settings.verify_tls(),
            )
            loop = bot_loop(self.environment)
        except ConfigError as exc:
            log.error("pexbot: %s", exc)
            raise StopUser() from None
        factory = type(self).factory
        handle = loop.start_bot(factory, target, settings.options(worker_index(self.environment)))
        report = BotReport(expects_media=settings.media != "none", stall_after=settings.stall_after)
        try:
            while not handle.done() and not self._stopping():
                self._fire(report.update(handle.record, time.monotonic()), handle)
                gevent.sleep(self.poll_every)
        finally:  # GreenletExit (Locust stops the user) included: the bot leaves first
            self._leave(handle, report, settings)

    def _stopping(self) -> bool:
        # Locust's graceful stop (with --stop-timeout) marks the user; its task should end.
        return getattr(self, "_state", None) == "stopping"

    def _leave(self, handle: BotHandle, report: BotReport, settings: UserSettings) -> None:
        asked = not handle.done()
        if asked:
            handle.leave()
            deadline = time.monotonic() + settings.leave_timeout
            try:
                while not handle.done() and time.monotonic() < deadline:
                    gevent.sleep(self.poll_every)
            except GreenletExit:  # stopped again (past --stop-timeout): no more waiting
                pass
            if not handle.done():
                handle.cancel()
        self._fire(
            report.finish(handle.record, time.monotonic(), handle.started, asked=asked), handle
        )

    def _fire(self, reports: list[Report], handle: BotHandle) -> None:
        for item in reports:
            self.environment.events.request.fire(
                request_type=REQUEST_TYPE,
                name=item.name,
                response_time=item.ms,
                response_length=item.length,
                exception=item.error,
                context={"bot": handle.record.index},
            )
