"""The record job: join, record main audio+video and any presentation, log the events.

::

    job = RecordJob(target, RecordOptions(out=Path("rec"), duration=60))
    result = await job.run(stop)        # stop: an asyncio.Event (a signal handler sets it)

Passthrough by default: the VP8/H.264 and Opus packets received are muxed as they are
(:mod:`media.passthrough_recorder`; mkv or webm; a keyframe asked for at the start and after a
loss). ``RecordOptions(transcode=True)`` decodes and re-encodes (:class:`media.Recorder`; fixed
codecs, mp4 too).

Writes into ``out``: ``main.mkv`` (the conference as the bot receives it), ``presentation.mkv``
when someone presents (on the same clock: it starts where the presentation started), and
``events.jsonl`` (:mod:`.event_log`). The bot itself sends black video and silence.

Ends on ``duration``, on ``stop``, when the node ends the session or the call (conference
over, bot disconnected). With ``JoinTarget(rejoin=...)`` a lost node is joined again
(:mod:`pexbot.session.rejoin`): the recording goes on in the same files and ``events.jsonl``
gets a ``rejoined`` line (``left_at``, ``back_at``, ``reason``) marking the gap. Every way out
leaves the conference (call disconnected, token released) and then finalises the files,
cancellation included.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from media import Recorder
from media.mux import RecordingError
from media.passthrough_recorder import PassthroughRecorder
from media.shared_encoding import SharedOpusEncoder
from pexbot.call.media_call import MediaCall
from pexbot.call.options import CallOptions
from pexbot.rtc import aiortc_compat
from pexbot.session.rejoin import Gap, Rejoiner, describe
from pexbot.session.session import Session

from .event_log import EventLog
from .metrics import MetricsRegistry
from .stats import RtpRates, RtpTotals, rtp_totals
from .target import JoinTarget, every, until_end

log = logging.getLogger(__name__)

#: frames a second of the black picture a passthrough recorder sends (it only listens)
LISTENER_FPS = 2.0

EVENTS_FILE = "events.jsonl"


@dataclass(frozen=True)
class RecordOptions:
    out: Path
    duration: float | None = None
    #: mkv (VP8 + Opus), webm or mp4 (H.264 + AAC)
    container: str = "mkv"
    #: seconds between status updates (bitrate sampling, ``on_status``)
    status_every: float = 1.0
    #: decode and re-encode (fixed codecs, any container); False (the default): passthrough,
    #: the received VP8/H.264 + Opus packets muxed as they are (mkv/webm)
    transcode: bool = False


@dataclass(frozen=True)
class RecordStatus:
    elapsed: float  # seconds on the recording clock (0 before the first frame)
    rx_bps: float | None
    participants: int
    roles: tuple[str, ...]  # roles with a file so far


@dataclass
class RecordResult:
    reason: str  # "duration", "stopped", or "ended: <the node's reason>"
    seconds: float
    participants: int
    events_file: Path
    events: int
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "participants": self.participants,
            "events_file": str(self.events_file),
            "events": self.events,
            "files": self.files,
        }


class RecordJob:
    def __init__(
        self,
        target: JoinTarget,
        options: RecordOptions,
        *,
        on_status: Callable[[RecordStatus], None] | None = None,
        metrics: MetricsRegistry | None = None,
    ) -> None:
        self.target = target
        self.options = options
        self._on_status = on_status
        self.recorder: Recorder
        if options.transcode:
            self.recorder = Recorder(options.out, container=options.container)
        else:
            # The codec a file's video stream gets when no video came before it had to open:
            # the one the call puts first (the far end may still choose another; then those
            # frames are dropped and logged rather than written as the wrong codec).
            self.recorder = PassthroughRecorder(
                options.out,
                container=options.container,
                request_keyframe=self._keyframe,
                video_codec=CallOptions.video_codec,
                receive_lag=call_receive_lag(),
            )
        self._session: Session | None = None
        self._call: MediaCall | None = None
        self._silence: SharedOpusEncoder | None = None  # what a passthrough recorder says
        self._rates: RtpRates | None = None
        self._last: RtpTotals | None = None
        self._roles_noted: set[str] = set()
        self._file_failed = asyncio.Event()
        self._began = time.monotonic()
        if metrics is not None:
            _describe(metrics)
            metrics.set("pexbot_bots_joined", 0)
            self._metrics = metrics
        else:
            self._metrics = MetricsRegistry()

    def _t0(self) -> float | None:
        """Monotonic time of the recording clock's zero (the recorder runs on monotonic)."""
        if self.recorder.started_at is None:
            return None
        return time.monotonic() - self.recorder.elapsed()

    def status(self) -> RecordStatus:
        session = self._session
        return RecordStatus(
            elapsed=self.recorder.elapsed(),
            rx_bps=self._rates.rx_bps if self._rates else None,
            participants=len(session.state.roster) if session else 0,
            roles=tuple(sorted(self.recorder.paths)),
        )

    async def run(self, stop: asyncio.Event | None = None) -> RecordResult:
        options = self.options
        options.out.mkdir(parents=True, exist_ok=True)
        events: EventLog | None = None
        reason = "stopped"
        self._began = time.monotonic()
        log_box: list[EventLog] = []

        async def in_session(session: Session) -> str:
            # One recorder over every session: after a re-join the new call's tracks go into
            # the same files, on the same recording clock.
            self._session = session
            if not log_box:
                # Created once joined, so a refused join leaves no events file behind.
                log_box.append(EventLog(options.out / EVENTS_FILE, self._t0))
            return await self._record(session, log_box[0], stop)

        def on_gap(gap: Gap) -> None:
            log_box[0].note(describe(gap, self._t0()))

        rejoiner: Rejoiner[str] = Rejoiner(self.target.session, on_gap=on_gap)
        try:
            try:
                reason = await rejoiner.run(in_session, stop=stop)
            finally:
                events = log_box[0] if log_box else None
            if rejoiner.gave_up is not None:
                reason = f"{reason} ({rejoiner.gave_up})"
        except RecordingError as exc:
            reason = f"failed: {exc}"
            raise
        finally:
            self._metrics.set("pexbot_bots_joined", 0)
            # The session is left (the tracks have ended): finalise the files, even when
            # cancelled meanwhile.
            close = asyncio.ensure_future(self.recorder.close())
            try:
                await asyncio.shield(close)
            except asyncio.CancelledError:
                await asyncio.wait({close})
                raise
            finally:
                if self._silence is not None:
                    await self._silence.aclose()
                if events is not None:
                    self._note_files(events)
                    events.note({"event": "recording_end", "reason": reason})
                    events.close()
        assert events is not None
        participants = len(self._session.state.roster) if self._session else 0
        return RecordResult(
            reason=reason,
            seconds=self.recorder.elapsed(),
            participants=participants,
            events_file=events.path,
            events=events.written,
            files=self._file_summary(),
        )

    async def _record(self, session: Session, events: EventLog, stop: asyncio.Event | None) -> str:
        events.roster(list(session.state.roster.values()))
        session.on(None, events.on_event)
        # The session follows presentations (session.presentation): the slides track, or the
        # JPEG fallback on a call without a slides line, arrives as role "presentation".
        if self.options.transcode:
            call = await session.call(on_track=self._track)
        else:
            # Passthrough: what the recorder sends is Opus silence (DTX) never encoded and a black
            # picture twice a second, by the RTP shortcut; it receives by aiortc's own path. (The
            # repairing shortcut, fast_repair, is cheaper, but under load a presentation's file
            # sometimes never started with it: not the default until that is understood.)
            silence = self._silence = self._silence or SharedOpusEncoder(silent=True, dtx=True)
            call = await session.call(
                on_track=self._track,
                audio=silence.track(),
                encoded_receive=True,
                fast_send=True,
                filler_fps=LISTENER_FPS,
            )
        self._call = call
        self._metrics.set("pexbot_bots_joined", 1)
        sample = functools.partial(self._sample, events)
        step = every(self.options.status_every, sample, what="recording status")
        session.spawn(step, name="pexbot-record-status")
        duration = self.options.duration
        if duration is not None:  # over every session, when the node was lost and joined again
            duration = max(0.0, duration - (time.monotonic() - self._began))
        ended = await until_end(
            duration=duration,
            stop=stop,
            ended=[session.ended, call.ended, self._file_failed],
        )
        failure = self._failure()
        if failure is not None:
            # Leaving now: the call and the token go as on any way out, what was written stays.
            raise RecordingError(failure)
        if ended != "ended":
            return ended
        why = session.end_reason if session.ended.is_set() else call.end_reason
        return f"ended: {why or 'by the node'}"

    async def _keyframe(self, role: str) -> None:
        """The passthrough recorder needs a keyframe (start, loss): PLI to the current call."""
        call = self._call
        if call is not None and not call.ended.is_set() and role in ("main", "presentation"):
            await call.request_keyframe("main" if role == "main" else "presentation")

    def _track(self, role: str, track: Any) -> None:
        self.recorder.add_track(track, role=role)

    async def _sample(self, events: EventLog) -> None:
        call = self._call
        if call is not None and not call.ended.is_set():
            totals = await rtp_totals(call.pc)
            if self._last is not None:
                self._rates = RtpRates.between(self._last, totals)
            self._last = totals
        if self._failure() is not None:
            self._file_failed.set()
        self._note_files(events)
        events.flush()
        status = self.status()
        self._update_metrics(status)
        if self._on_status is not None:
            self._on_status(status)

    def _failure(self) -> str | None:
        """Why a recording file can take no more (the disk refused it), if one cannot."""
        for role, stats in sorted(self.recorder.stats().items()):
            if stats.error is not None:
                return f"recording {role} failed: {stats.error}"
        return None

    def _note_files(self, events: EventLog) -> None:
        for role, stats in sorted(self.recorder.stats().items()):
            if role not in self._roles_noted:
                self._roles_noted.add(role)
                record = {"event": "file_start", "role": role, "file": stats.path.name}
                events.note(record, t=stats.start)

    def _update_metrics(self, status: RecordStatus) -> None:
        m = self._metrics
        m.set("pexbot_recording_seconds", status.elapsed)
        m.set("pexbot_participants", status.participants)
        m.set("pexbot_media_flowing", 1 if status.roles else 0)
        if status.rx_bps is not None:
            m.set("pexbot_rx_bitrate_bps", status.rx_bps)
        if self._rates is not None:
            m.set("pexbot_tx_bitrate_bps", self._rates.tx_bps)
        for role, stats in self.recorder.stats().items():
            for kind, stream in stats.streams.items():
                m.set("pexbot_frames_total", stream.frames_written, role=role, kind=kind)
                m.set("pexbot_frames_dropped_total", stream.frames_dropped, role=role, kind=kind)
            m.set("pexbot_errors_total", 1 if stats.error else 0, role=role)

    def _file_summary(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for role, stats in self.recorder.stats().items():
            out[role] = {
                "file": str(stats.path),
                "duration_s": round(stats.duration, 3),
                "bytes": stats.bytes_written,
                "frames": {k: s.frames_written for k, s in stats.streams.items()},
                "dropped": {k: s.frames_dropped for k, s in stats.streams.items()},
                "error": stats.error,
            }
        return out


def call_receive_lag() -> dict[str, int]:
    """Frames a pexbot call's receivers hold a frame back before handing it over: video goes
    at its marker packet (:func:`pexbot.rtc.prompt_start.complete_frames_at_marker`), audio
    after ``AUDIO_PREFETCH`` more packets (:func:`pexbot.rtc.aiortc_compat.lower_audio_prefetch`);
    on an aiortc they were not tested with, its own buffers (1 and 4)."""
    if not aiortc_compat.aiortc_tested():
        return {"video": 1, "audio": 4}
    return {"video": 0, "audio": aiortc_compat.AUDIO_PREFETCH}


def _describe(m: MetricsRegistry) -> None:
    m.describe("pexbot_bots_joined", "bots in the conference")
    m.describe("pexbot_media_flowing", "1 once media is being recorded")
    m.describe("pexbot_recording_seconds", "seconds on the recording clock")
    m.describe("pexbot_participants", "participants in the roster")
    m.describe("pexbot_rx_bitrate_bps", "received bitrate, bits per second")
    m.describe("pexbot_tx_bitrate_bps", "sent bitrate, bits per second")
    m.describe("pexbot_frames_total", "frames written to the recording", "counter")
    m.describe("pexbot_frames_dropped_total", "frames dropped by the recorder", "counter")
    m.describe("pexbot_errors_total", "recording files that hit an error", "counter")
