"""``Session``: one participant in one conference, from ``request_token`` to ``release_token``.

::

    async with Session(node, "meet.alice", display_name="bot", pin="1234") as session:
        print(session.state.roster)
        async for event in session.events():
            ...

Lifetime. Entering joins (typed refusals: see :mod:`pexbot.signalling.join`), opens the event
stream and waits for the first roster sync. A runner task (:mod:`pexbot.session.tasks`) owns a
``TaskGroup`` with the token keeper, the event-stream reader, a watcher for "the node told us
to go", and whatever was ``spawn``-ed. The session ends when:

- ``close()`` is called (``__aexit__`` does; idempotent, concurrent calls share one close);
- the node sends ``disconnect``: ``end_reason`` is the node's reason;
- the token is lost (refused on refresh, or expired while the node was unreachable);
- the event stream cannot be re-opened (8 attempts with backoff);
- a ``spawn(..., critical=True)`` task fails.

Every way out cancels and awaits the tasks, ends the presentation and the media call, releases
the token (even when the closer is itself cancelled: the release gets a bounded time),
publishes ``SessionEndedEvent``, ends the event iterators and closes the HTTP session unless it
was injected. Then ``ended`` is set and API calls raise ``SessionEnded``. When the application
leaves, ``calls/<uuid>/disconnect`` goes before ``release_token``, as in Pexip's client; when
the node ends the session (``disconnect``, token lost) the call is closed without it.

Media. ``await session.call(audio=..., video=..., on_track=...)`` starts a
:class:`~pexbot.call.MediaCall` owned by the session, one at a time (:mod:`pexbot.call.slot`);
direct media, its chat and statistics are in :mod:`pexbot.session.media`.
``session.presentation`` (:mod:`pexbot.presentation`) presents on that call, follows other
participants' presentations, and falls back to the presentation JPEGs without a slides line.

Events (:mod:`pexbot.session.intake`). Every event is applied to ``state`` (a
``ConferenceState``) before it is published, roster events as what they did to the roster.
``refer`` and ``breakout_refer`` are published and not followed: moving is the application's
decision (``session.refer_session(event)`` builds the session to move to).

Parts. :class:`Session` is the lifetime owner: it joins, closes in order and releases the
token. It owns the transport, ``state``, ``dispatcher``, the call slot and ``presentation``,
and wires four parts that each own their state and are handed the rest:
:class:`~pexbot.session.tasks.SessionTasks` runs the ``TaskGroup`` and turns whatever stops it
into one reason;
:class:`~pexbot.session.access.SessionAccess` holds what joining produced (the
``request_token`` result, the token keeper, the API context) and hands out the API objects;
:class:`~pexbot.session.media.SessionMedia` starts the media call and takes its callbacks;
:class:`~pexbot.session.intake.EventIntake` applies, publishes and routes each event. The
public methods that belong to a part are one-line delegations to it.

Secrets: the PIN and tokens never appear in reprs, logs or errors.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Coroutine, Iterable
from types import TracebackType
from typing import Any

import aiohttp
from aiortc.mediastreams import MediaStreamTrack

from pexbot import wire
from pexbot.call.media_call import CallOptions, MediaCall
from pexbot.call.slot import CallSlot
from pexbot.errors import SessionEnded
from pexbot.events import EventName, Refer, SessionEndedEvent, SessionStarted
from pexbot.events.dispatch import Callback, EventDispatcher, EventIterator, Subscription
from pexbot.events.ids import StreamStats
from pexbot.events.state import ConferenceState
from pexbot.events.stream import EventStreamReader
from pexbot.presentation.controller import PresentationController
from pexbot.signalling.api import ApiContext, BreakoutApi, ConferenceApi, NodeApi, ParticipantApi
from pexbot.signalling.api.call_signalling import SessionSignalling
from pexbot.signalling.api.conference import MessageType
from pexbot.signalling.backoff import Backoff
from pexbot.signalling.http import ApiTransport
from pexbot.signalling.join import JoinRequest, request_token
from pexbot.signalling.retry import RejoinPolicy
from pexbot.signalling.token import TokenKeeper

from .access import SessionAccess
from .intake import EventIntake
from .media import SessionMedia
from .tasks import SessionTasks

log = logging.getLogger(__name__)

USER_DISCONNECT = "User initiated disconnect"


class Session:
    """One participant's session; see the module docstring."""

    def __init__(
        self,
        node: str,
        alias: str,
        *,
        display_name: str = "pexbot",
        pin: str | None = None,
        call_tag: str | None = None,
        direct_media: bool = False,
        conference_extension: str | None = None,
        chosen_idp: str | None = None,
        sso_token: str | None = None,
        join_token: str | None = None,
        http: aiohttp.ClientSession | None = None,
        verify_tls: bool | ssl.SSLContext = True,
        timeout: float = 10.0,
        join_timeout: float = 15.0,
        release_timeout: float = 3.0,
        max_stream_attempts: int = 8,
        rejoin: RejoinPolicy | None = None,
    ) -> None:
        self.request = JoinRequest(
            display_name=display_name,
            pin=pin,
            call_tag=call_tag,
            direct_media=direct_media,
            conference_extension=conference_extension,
            chosen_idp=chosen_idp,
            sso_token=sso_token,
            join_token=join_token,
        )
        self.transport = ApiTransport(
            node, alias, http=http, verify_tls=verify_tls, timeout=timeout
        )
        self._join_timeout = join_timeout
        self._release_timeout = release_timeout
        self._max_stream_attempts = max_stream_attempts
        #: how to join again after the node was lost, for a :class:`~.rejoin.Rejoiner`
        self.rejoin = rejoin
        self.state = ConferenceState()
        self.dispatcher = EventDispatcher()
        #: set once the session is over (whatever ended it)
        self.ended = asyncio.Event()
        #: why it ended: the node's words for a ``disconnect``, else what happened
        self.end_reason: str | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._tasks = SessionTasks(end_reason=lambda: self.end_reason, on_stopped=self._begin_close)
        self._access = access = SessionAccess(self.transport)
        self._calls = CallSlot(
            lambda coro: self.spawn(coro, name="pexbot-call-router"),
            disconnect_timeout=release_timeout,
        )
        #: sending and receiving the presentation (see pexbot.presentation)
        self.presentation = PresentationController(
            me=lambda: access.participant_uuid,
            spawn=lambda coro: self.spawn(coro, name="pexbot-presentation"),
            fetch_jpeg=lambda frame_id, high: access.conference.presentation_frame(
                frame_id, high=high
            ),
            release_floor=lambda: access.me.release_floor(),
            roster=lambda: self.state.roster,
        )
        self._media = SessionMedia(
            access,
            self.state,
            self.dispatcher,
            calls=self._calls,
            presentation=self.presentation,
            closing=self._closing,
        )
        self._intake = EventIntake(
            self.state,
            self.dispatcher,
            routes=(self._calls.on_event, self.presentation.on_event),
            transport=self.transport,
            me=lambda: access.participant_uuid,
            keeper=lambda: access.token_keeper if access.opened else None,
            end=self._end,
        )

    def __repr__(self) -> str:
        who = self.participant_uuid if self._access.opened else "not joined"
        status = f"ended: {self.end_reason}" if self.ended.is_set() else "open"
        return (
            f"Session({self.transport.origin!r}, {self.transport.alias!r}, {who}, "
            f"role={self.role}, {status})"
        )

    # -- joining and leaving -------------------------------------------------------------------

    async def __aenter__(self) -> Session:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        reason = USER_DISCONNECT
        if exc_type is not None and not issubclass(exc_type, asyncio.CancelledError | SessionEnded):
            reason = f"{USER_DISCONNECT} ({exc_type.__name__})"
        await self.close(reason)

    async def open(self) -> None:
        """Join, open the event stream, wait for the first roster sync (``join_timeout``).

        A refusal (``PinRequired``, ``ConferenceNotFound``...) or any failure closes the
        session (token released if one was issued) and propagates.
        """
        if self._access.opened or self._close_task is not None:
            raise SessionEnded("a Session can be opened once")
        try:
            info = await request_token(self.transport, self.request)
            keeper = TokenKeeper(
                self.transport,
                info,
                release_timeout=self._release_timeout,
                on_refreshed=self._media.token_refreshed,
            )
            self._access.open(info, keeper)
            runner = self._tasks.start(
                f"pexbot-session-{info.participant_uuid}",
                {"pexbot-token-keeper": keeper.run, "pexbot-event-stream": self._reader().run},
            )
            synced = asyncio.ensure_future(self._intake.synced.wait())
            try:
                await asyncio.wait(
                    {runner, synced},
                    timeout=self._join_timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                synced.cancel()
            if runner.done() or self._close_task is not None:
                raise SessionEnded(self.end_reason or "the session ended while joining")
            if not self._intake.synced.is_set():
                log.warning("no participant sync within %.0f s; going on", self._join_timeout)
        except BaseException as exc:
            await self.close(f"Join failed: {type(exc).__name__}")
            raise
        self.dispatcher.publish(SessionStarted(info.participant_uuid, info.role))

    async def close(self, reason: str = USER_DISCONNECT) -> None:
        """End the session (idempotent); returns once the token is released and tasks are done.

        If the caller is cancelled meanwhile, the close still completes (bounded by the release
        timeout) before the cancellation goes on.
        """
        task = self._begin_close(reason)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait({task}, timeout=self._release_timeout + 2)
            raise

    def _begin_close(self, reason: str) -> asyncio.Task[None]:
        if self._close_task is None:
            if self.end_reason is None:
                self.end_reason = reason
            self._close_task = asyncio.get_running_loop().create_task(
                self._shutdown(), name="pexbot-session-close"
            )
        return self._close_task

    async def _shutdown(self) -> None:
        reason = self.end_reason or USER_DISCONNECT
        try:
            # The application is leaving (not the node ending us): tell the node about the call.
            leaving = self._tasks.running and not self._tasks.end_requested
            await self._tasks.stop()
            try:
                await self.presentation.close()
            except Exception:
                log.exception("closing the presentation failed")
            # Official client order: calls/<uuid>/disconnect, then release_token.
            try:
                await self._calls.close(reason, tell_node=leaving)
            except Exception:
                log.exception("closing the media call failed")
            await self._access.release(reason)
        finally:
            log.info("session %s ended: %s", self.participant_uuid or "(not joined)", reason)
            self.dispatcher.publish(SessionEndedEvent(reason))
            try:
                await self.dispatcher.aclose(drain_timeout=2.0)
            finally:
                await self.transport.aclose()
                self.ended.set()

    # -- the tasks -----------------------------------------------------------------------------

    def _reader(self) -> EventStreamReader:
        return EventStreamReader(
            self.transport.http,
            self.transport.url("events"),
            lambda: self._access.token,
            on_event=self._intake.on_sse,
            on_connected=self._intake.on_connected,
            on_lost=self._intake.on_lost,
            backoff=Backoff(initial=0.1, maximum=30.0),
            max_attempts=self._max_stream_attempts,
            ssl=self.transport.ssl,
            stats=self._intake.stats,
        )

    def _end(self, reason: str) -> None:
        """Ask the runner to end the session with ``reason`` (from a sync callback)."""
        if self.end_reason is None:
            self.end_reason = reason
        self._tasks.request_end()

    def _closing(self) -> str | None:
        """For the media part: ``None`` while open, else why the session is ending."""
        return None if self._close_task is None else self.end_reason or ""

    # -- what the session owns ----------------------------------------------------------------

    @property
    def stream_stats(self) -> StreamStats:
        """The event stream's counters: drops, reconnects, re-syncs, replays, duplicates
        dropped, gaps (see :mod:`pexbot.events.ids`)."""
        return self._intake.stats

    @property
    def task_group(self) -> asyncio.TaskGroup:
        """The session's TaskGroup: a failing task in it ends the session."""
        return self._tasks.task_group

    def spawn(
        self, coro: Coroutine[Any, Any, None], *, name: str | None = None, critical: bool = False
    ) -> asyncio.Task[None]:
        """Run ``coro`` as a task owned by the session: cancelled and awaited when it ends.

        An exception in a ``critical`` task ends the session; otherwise it is logged.
        """
        return self._tasks.spawn(coro, name=name, critical=critical)

    def refer_session(self, event: Refer, **overrides: Any) -> Session:
        """A new (unopened) session that follows a ``refer``: same node and name, the event's
        alias and one-time token. Opening it and closing this one is up to the caller."""
        options: dict[str, Any] = {
            "display_name": self.request.display_name,
            "call_tag": self.request.call_tag,
            "direct_media": self.request.direct_media,
            "join_token": event.token,
            "verify_tls": self.transport.ssl,
            "http": self.transport.injected_http,
        }
        options.update(overrides)
        return Session(self.transport.node, event.alias, **options)

    # -- who we are and the room functions: the access part ----------------------------------

    @property
    def info(self) -> wire.RequestTokenResult:
        """The ``request_token`` result (its repr leaves the token out)."""
        return self._access.info

    @property
    def participant_uuid(self) -> str | None:
        return self._access.participant_uuid

    @property
    def role(self) -> str | None:
        """``"HOST"`` or ``"GUEST"``, kept current from our own roster entry."""
        return self._access.role

    @property
    def token(self) -> str:
        """The current token (for code that talks to the node itself). Keep it secret."""
        return self._access.token

    @property
    def token_keeper(self) -> TokenKeeper:
        return self._access.token_keeper

    @property
    def api(self) -> ApiContext:
        """Transport + current token: build any API object on it (``ConferenceApi(s.api)``)."""
        return self._access.api

    @property
    def conference(self) -> ConferenceApi:
        """Conference control functions of the main room."""
        return self._access.conference

    def participant(self, uuid: str) -> ParticipantApi:
        return self._access.participant(uuid)

    @property
    def me(self) -> ParticipantApi:
        """Participant functions on ourselves."""
        return self._access.me

    def breakout(self, breakout_uuid: str) -> BreakoutApi:
        return self._access.breakout(breakout_uuid)

    @property
    def node(self) -> NodeApi:
        """Node-level requests (``/api/client/v2/status``)."""
        return self._access.node

    # -- events ------------------------------------------------------------------------------

    def events(
        self, names: Iterable[EventName | str] | None = None, *, maxsize: int = 1000
    ) -> EventIterator:
        """Events from now on (bounded, drop-oldest); ends when the session ends."""
        return self.dispatcher.stream(names=names, maxsize=maxsize)

    def on(
        self, names: EventName | str | Iterable[EventName | str] | None, callback: Callback
    ) -> Subscription:
        """Call ``callback`` (sync or async) for events named ``names`` (None: all)."""
        if isinstance(names, str):
            names = [names]
        return self.dispatcher.subscribe(callback, names=names)

    # -- the media call: the media part ------------------------------------------------------

    def call_signalling(self) -> SessionSignalling:
        """``pexbot.call.CallSignalling`` for a media call of ours."""
        return self._media.call_signalling()

    async def call(
        self,
        *,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        on_track: Callable[[str, MediaStreamTrack], None] | None = None,
        options: CallOptions | None = None,
        **option_overrides: Any,
    ) -> MediaCall:
        """Start a media call and return it once media can flow (in direct media, possibly
        earlier, in state ``"waiting"``: the far end is not there yet; ``call.wait_connected()``).

        Options come from ``request_token`` (ICE servers, relay-only, call type) unless
        ``options`` is given; ``option_overrides`` (``media_type="audio"``,
        ``video_codec="vp8"``...) replace single fields. The session owns the call: events
        about it are routed to it, ``call_disconnected`` ends it (``call.ended`` /
        ``call.end_reason``; the event is published as well), and closing the session
        disconnects it before the token is released. One call at a time: CallError while one
        is live. Set-up failures raise the call's errors (NegotiationError, IceTimeout...), or
        SessionEnded when the session ended meanwhile.
        """
        return await self._media.call(
            audio=audio, video=video, on_track=on_track, options=options, **option_overrides
        )

    @property
    def media_call(self) -> MediaCall | None:
        """The live media call started with :meth:`call`, if any."""
        return self._media.media_call

    @property
    def direct_media(self) -> bool:
        """Whether the node made this a direct-media (peer-to-peer) conference."""
        return self._media.direct_media

    async def send_message(self, payload: str, *, type: MessageType = "text/plain") -> bool:
        """Chat to the conference. In direct media, over the call's data channel as Pexip's
        client does (queued until it opens; returns False then); otherwise ``message``."""
        return await self._media.send_message(payload, type=type)
