"""Passthrough recording: the packets received (VP8/H.264/Opus) muxed as they are, no decode.

:class:`PassthroughRecorder` takes tracks whose ``recv()`` returns
:class:`~media.encoded.EncodedFrame` (a receiver tapped with ``pexbot.rtc.encoded.tap_encoded``,
or a call made with ``encoded_receive=True``) and writes one Matroska/WebM file per role, named
and crash-safe like :class:`~media.recorder.Recorder` (same worker, flush, free-space reserve
and stall check: :class:`PassthroughFile` is a :class:`~media.recording_file.RecordingFile`
whose stage copies packets instead of encoding frames).

Timing (one recording clock for audio and video, so they stay in sync): each stream's RTP
timestamps are mapped onto the recording clock from its first frame's arrival, then advance by
RTP time (:class:`~media.recording_clock.RecordingClock`: an earlier arrival moves the mapping
down, a jump of a second or more re-anchors at the arrival, a replaced track anchors afresh).
A frame's arrival is taken as that of its first packet: aiortc's jitter buffers release a
frame only when a later one starts (``RECEIVE_LAG``: what the receivers hold back is given as
``receive_lag``; pexbot's calls release video at its marker packet and hold audio 2 packets),
and an audio packet is sent once its last sample was captured, so its first sample is one
packet earlier. Without these, video lands a frame interval late, audio 100 ms, and the two are
apart by the difference.
Written timestamps never go backwards: video is kept strictly rising, audio packets are kept
back to back unless a real gap (> 40 ms) leaves a hole, and a packet wholly behind the audio
already written is dropped.

Video starts at a keyframe: frames before the first one are dropped and a keyframe is asked
for (``request_keyframe(role)``, at start and every second while waiting). After a loss the
recorder asks again: a timestamp gap of more than twice the usual frame interval asks only (the
jitter buffer passes on complete frames, so what follows still decodes); a gap over
``LOSS_GAP`` seconds, a frame the writer's queue had no room for, or a replaced track also drops
until the keyframe, so every frame in the file decodes. A frame must also be whole
(:mod:`media.frame_check`): aiortc's jitter buffer starts at the first packet it gets, so after
missed first packets it hands over a frame's tail, which for H.264 still looks like a keyframe.
A track's first keyframe must carry SPS and PPS: with no extradata FFmpeg builds the Matroska
header's avcC from the first video packet, and a headless one failed the presentation file
("Invalid data found when processing input"). A headless frame later on counts as a loss.

Size changes (Pexip's composed layouts switch resolution): VP8 and H.264 carry the size in
every keyframe, so the packets go in as they are and the track header keeps the first size.
FFmpeg/PyAV and ffprobe decode such files frame by frame at each frame's own size.

A role whose frames arrive decoded (``av.VideoFrame``/``AudioFrame``: a presentation sent as
JPEG stills) is transcoded into its file as :class:`~media.recorder.Recorder` does.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

from media.encoded import EncodedFrame
from media.frame_check import whole_frame
from media.mux import RecordingError
from media.passthrough_file import AUDIO_RATE, PassthroughFile, opus_samples
from media.recorder import Recorder
from media.recording_file import RecordingFile
from media.sink import Kind

log = logging.getLogger(__name__)

#: seconds of missing video timestamps taken as a loss the decoder cannot bridge
LOSS_GAP = 0.5
#: seconds between keyframe requests for one role
REQUEST_EVERY = 1.0
#: frames aiortc's own jitter buffers hold a frame back: a video frame goes at the next
#: frame's first packet, an audio frame at the fourth one after it (``prefetch=4``)
RECEIVE_LAG: Mapping[str, int] = MappingProxyType({"video": 1, "audio": 4})

KeyframeRequest = Callable[[str], Awaitable[object] | object]


@dataclass
class _VideoGate:
    """Per role: whether video waits for a keyframe, and the frame interval seen so far."""

    waiting: bool = True
    started: bool = False  # a whole keyframe with its parameter sets has been let through
    asked_at: float | None = None
    last_ts: int | None = None
    interval: float | None = None  # smoothed RTP interval between frames, seconds


class PassthroughRecorder(Recorder):
    """A sink that muxes received encoded frames into one file per role, without decoding.

    ``request_keyframe(role)`` (may be async) is called when a role's video needs a keyframe;
    ``video_codec`` ("vp8"/"h264", the call's) names the video stream of a file whose video
    had not started when it opened;
    ``container`` is mkv (default) or webm (VP8 + Opus only);
    ``receive_lag`` ({"video": n, "audio": n}, default :data:`RECEIVE_LAG`: aiortc's own
    buffers) is how many later frames the receivers wait for before they hand a frame over.
    Other options as
    :class:`~media.recorder.Recorder`: ``video_queue``/``audio_queue`` bound the frames waiting
    for the writer, ``fsync`` also pushes the file to disk every second.
    """

    def __init__(
        self,
        target: str | Path,
        *,
        container: str | None = None,
        request_keyframe: KeyframeRequest | None = None,
        video_codec: str = "vp8",
        video_queue: int = 120,
        audio_queue: int = 500,
        fsync: bool = False,
        clock: Callable[[], float] = time.monotonic,
        receive_lag: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(
            target,
            container=container,
            video_queue=video_queue,
            audio_queue=audio_queue,
            fsync=fsync,
            clock=clock,
        )
        if self.spec.container == "mp4":
            raise RecordingError("passthrough writes mkv or webm; mp4 needs transcoding")
        self.request_keyframe = request_keyframe
        self.video_codec = video_codec
        self.receive_lag = {**RECEIVE_LAG, **(receive_lag or {})}
        self._gates: dict[str, _VideoGate] = {}
        self._released: dict[tuple[str, Kind], deque[float]] = {}
        self._decoded_roles: set[str] = set()
        self._requests: set[asyncio.Task[None]] = set()
        self.keyframe_requests = 0
        self.video_dropped_waiting = 0  # video frames dropped while waiting for a keyframe
        self.partial_frames = 0  # video frames whose first packets never arrived

    def on_track_added(self, role: str, kind: Kind, track: MediaStreamTrack) -> None:
        super().on_track_added(role, kind, track)
        self._released.pop((role, kind), None)
        subscribe = getattr(track, "subscribe_encoded", None)
        if callable(subscribe):
            # Frames pushed as they are assembled: no task hop per frame (~15 % of a
            # recorder's CPU). recv() still yields whatever does not come that way.
            subscribe(functools.partial(self._pushed, role, kind))
        if kind == "video":
            # A new track (a re-join, a rebuilt call): its first frames may reference pictures
            # the file never got.
            self._gates[role] = _VideoGate()

    def _pushed(self, role: str, kind: Kind, frame: object) -> None:
        if not self.closed:
            self.on_frame(role, kind, frame)

    def on_frame(self, role: str, kind: Kind, frame: object) -> None:
        if not isinstance(frame, EncodedFrame):
            # A role that arrives decoded (a presentation sent as JPEG stills) is transcoded.
            if isinstance(frame, AudioFrame | VideoFrame):
                self._decoded_roles.add(role)
                super().on_frame(role, kind, frame)
                return
            raise RecordingError(f"cannot record a {type(frame).__name__} on {role}/{kind}")
        now = frame.arrival
        # aiortc's jitter buffer hands a frame over only when a later frame's first packet
        # arrives (``receive_lag`` frames later): that packet's arrival, which is the release
        # of the frame that many before this one, is when this frame arrived.
        lag = self.receive_lag[kind]
        released = self._released.setdefault((role, kind), deque(maxlen=lag))
        if lag == 0:
            arrived = now  # released once its last packet is in
        elif len(released) == lag:
            arrived = released[0]
        elif kind == "audio":  # until then: the lag in packets of this one's duration
            arrived = now - lag * opus_samples(frame.data) / AUDIO_RATE
        else:
            arrived = now
        released.append(now)
        if kind == "video" and not self._pass_video(role, frame, now):
            return
        if kind == "audio":
            # An audio packet leaves its sender once its last sample is captured; its
            # timestamp is that of its first sample.
            arrived -= opus_samples(frame.data) / AUDIO_RATE
        if self._started_at is None:
            self._started_at = datetime.now(UTC)
        t = self._clock.place((role, kind), frame.seconds, arrived)
        file = self._files.get(role)
        if file is None:
            file = self._open_file(role, kind)
        if not file.submit(kind, frame, t) and kind == "video":
            self._lost(role, now)  # the file lacks a frame later ones refer to

    def _pass_video(self, role: str, frame: EncodedFrame, now: float) -> bool:
        gate = self._gates.setdefault(role, _VideoGate())
        if gate.last_ts is not None:
            step = (frame.timestamp - gate.last_ts) / frame.clock_rate
            if step >= LOSS_GAP:
                self._lost(role, now)
            elif gate.interval is not None and step > 2 * gate.interval:
                self._ask(role, now)
            elif step > 0:
                gate.interval = step if gate.interval is None else 0.9 * gate.interval + 0.1 * step
        gate.last_ts = frame.timestamp
        whole = whole_frame(frame.codec, frame.data)
        if not whole:
            self.partial_frames += 1  # its head never arrived: what follows needs a keyframe
            self._lost(role, now)
        # The first keyframe of a track must also carry its parameter sets: the file's header
        # is built from it, and a decoder starts there.
        if (
            gate.waiting
            and frame.keyframe
            and whole
            and (gate.started or whole_frame(frame.codec, frame.data, start=True))
        ):
            gate.waiting = False
            gate.started = True
        if gate.waiting:
            self.video_dropped_waiting += 1
            if gate.asked_at is None or now - gate.asked_at >= REQUEST_EVERY:
                self._ask(role, now)
            return False
        return True

    def _lost(self, role: str, now: float) -> None:
        gate = self._gates.setdefault(role, _VideoGate())
        if not gate.waiting:
            gate.waiting = True
            gate.asked_at = None
        self._ask(role, now)

    def _ask(self, role: str, now: float) -> None:
        gate = self._gates.setdefault(role, _VideoGate())
        if gate.asked_at is not None and now - gate.asked_at < REQUEST_EVERY / 2:
            return
        gate.asked_at = now
        if self.request_keyframe is None or self.closed:
            return
        self.keyframe_requests += 1
        task = asyncio.get_running_loop().create_task(
            self._send_request(role), name=f"passthrough-keyframe:{role}"
        )
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _send_request(self, role: str) -> None:
        assert self.request_keyframe is not None
        try:
            result = self.request_keyframe(role)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a call going away: the next keyframe request may get through
            log.debug("passthrough %s: keyframe request failed: %r", role, exc)

    def _open_file(self, role: str, kind: Kind) -> RecordingFile:
        if role in self._decoded_roles:
            return super()._open_file(role, kind)
        assert self._started_at is not None
        file = PassthroughFile(
            self.path_for(role),
            self.spec.container,
            self._settings,
            kinds=self._expected.get(role, set()) | {kind},
            now=self.elapsed,
            metadata={
                "recording_start": self._started_at.isoformat(timespec="milliseconds"),
                "role": role,
            },
            role=role,
            video_codec=self.video_codec,
        )
        self._files[role] = file
        file.start()
        return file

    async def finalise(self) -> None:
        requests = list(self._requests)
        for task in requests:
            task.cancel()
        if requests:
            await asyncio.wait(requests)
        await super().finalise()


__all__ = ["LOSS_GAP", "PassthroughFile", "PassthroughRecorder", "opus_samples"]
