"""Encoder stages: decoded frames placed on the recording clock in, encoded packets out.

Each stage owns the codec context of one muxer stream and runs on the recording worker thread.
Frames handed in may be shared with other consumers (aiortc's ``MediaRelay`` gives every
consumer the same object), so a stage never changes a frame it was given: PyAV's ``encode``
rewrites pts and time base, so it only ever sees frames the stage made itself.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt
from av import AudioFrame, VideoFrame
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.video.frame import PictureType
from av.video.stream import VideoStream

from media.mux import AnyPacket
from media.recording_clock import AudioPlacer

Samples = npt.NDArray[np.int16]  # shape (samples, 2): interleaved stereo


class VideoEncoder:
    """Scales every frame to the stream's fixed size and forces a keyframe at least every
    ``keyframe_interval`` seconds of recording time, whatever the input frame rate, so that
    every cluster or fragment starts decodable.

    With ``start``, a first frame that comes later than that is preceded by a black frame at
    ``start`` (counted in :attr:`filler_frames`), so that every stream of a file starts together.
    """

    def __init__(
        self, stream: VideoStream, *, keyframe_interval: float, start: float | None = None
    ) -> None:
        self._stream = stream
        self._start = start
        self.filler_frames = 0
        self._width = stream.codec_context.width
        self._height = stream.codec_context.height
        self._time_base = stream.codec_context.time_base or Fraction(1, 1000)
        self._keyframe_interval = keyframe_interval
        self._last_pts: int | None = None
        self._last_key: float | None = None
        self.last_time: float | None = None

    def encode(self, frame: VideoFrame, t: float) -> list[AnyPacket]:
        packets: list[AnyPacket] = []
        if self._last_pts is None and self._start is not None and t - self._start > 0.02:
            black = np.full((self._height * 3 // 2, self._width), 128, np.uint8)
            black[: self._height] = 16
            self.filler_frames += 1
            packets += self._encode(VideoFrame.from_ndarray(black, format="yuv420p"), self._start)
        out = frame.reformat(width=self._width, height=self._height, format="yuv420p")
        if out is frame:
            out = VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
        return packets + self._encode(out, t)

    def _encode(self, out: VideoFrame, t: float) -> list[AnyPacket]:
        pts = round(t / self._time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # muxers need strictly increasing timestamps
        self._last_pts = pts
        self.last_time = float(pts * self._time_base)
        if self._last_key is None or self.last_time - self._last_key >= self._keyframe_interval:
            out.pict_type = PictureType.I
            self._last_key = self.last_time
        out.pts = pts
        out.time_base = self._time_base
        return self._stream.encode(out)

    def flush(self) -> list[AnyPacket]:
        return self._stream.encode(None)


class AudioEncoder:
    """Cuts incoming audio into the codec's frame size on one continuous sample clock.

    Input of any format and rate is converted to s16 stereo at the stream's rate. Where the
    recording clock puts a frame past the end of what was written (a gap), silence fills it;
    see :class:`~media.recording_clock.AudioPlacer`. With ``start`` the stream begins there,
    silent until the first frame.
    """

    def __init__(
        self, stream: AudioStream, *, slack: float = 0.04, start: float | None = None
    ) -> None:
        self._stream = stream
        self._ctx = stream.codec_context
        self._rate = stream.codec_context.sample_rate
        self._ctx.open()  # frame_size is known once open
        self._frame_size = self._ctx.frame_size or 960
        self._time_base = Fraction(1, self._rate)
        self._placer = AudioPlacer(
            round(slack * self._rate), start=None if start is None else round(start * self._rate)
        )
        self._resampler: AudioResampler | None = None
        self._resampler_key: tuple[str, str, int] | None = None
        self._buffer: Samples = np.zeros((0, 2), np.int16)
        self._buffer_pos = 0  # sample position of _buffer[0]
        self.silence_samples = 0
        self.skipped_samples = 0

    @property
    def end_time(self) -> float | None:
        """Recording-clock time just after the last sample placed."""
        position = self._placer.next_position
        return None if position is None else position / self._rate

    def encode(self, frame: AudioFrame, t: float) -> list[AnyPacket]:
        samples = self._to_s16_stereo(frame)
        if len(samples) == 0:
            return []
        placement = self._placer.place(round(t * self._rate), len(samples))
        if not len(self._buffer):
            self._buffer_pos = placement.position
        packets: list[AnyPacket] = []
        if placement.silence:
            self.silence_samples += placement.silence
            remaining = placement.silence
            while remaining:
                # Fill in frame-size steps so a long gap never needs one huge array.
                step = min(remaining, self._frame_size)
                packets += self._push(np.zeros((step, 2), np.int16))
                remaining -= step
        if placement.skip:
            self.skipped_samples += placement.skip
            samples = samples[placement.skip :]
        packets += self._push(samples)
        return packets

    def flush(self) -> list[AnyPacket]:
        packets: list[AnyPacket] = []
        if len(self._buffer):
            pad = self._frame_size - len(self._buffer)
            packets += self._push(np.zeros((pad, 2), np.int16))
        packets += self._stream.encode(None)
        return packets

    def _push(self, samples: Samples) -> list[AnyPacket]:
        self._buffer = np.concatenate([self._buffer, samples]) if len(self._buffer) else samples
        packets: list[AnyPacket] = []
        size = self._frame_size
        while len(self._buffer) >= size:
            chunk, self._buffer = self._buffer[:size], self._buffer[size:]
            out = AudioFrame.from_ndarray(
                np.ascontiguousarray(chunk).reshape(1, -1), format="s16", layout="stereo"
            )
            out.sample_rate = self._rate
            out.pts = self._buffer_pos
            out.time_base = self._time_base
            self._buffer_pos += size
            packets += self._stream.encode(out)
        return packets

    def _to_s16_stereo(self, frame: AudioFrame) -> Samples:
        layout = frame.layout.name
        if frame.format.name == "s16" and layout == "stereo" and frame.sample_rate == self._rate:
            return frame.to_ndarray().reshape(-1, 2).astype(np.int16, copy=True)
        key = (frame.format.name, layout, frame.sample_rate)
        if self._resampler is None or key != self._resampler_key:
            self._resampler = AudioResampler(format="s16", layout="stereo", rate=self._rate)
            self._resampler_key = key
        # The resampler is fed a copy: it may restamp what it is given.
        copy = AudioFrame.from_ndarray(frame.to_ndarray(), format=frame.format, layout=layout)
        copy.sample_rate = frame.sample_rate
        parts = [f.to_ndarray().reshape(-1, 2) for f in self._resampler.resample(copy)]
        if not parts:
            return np.zeros((0, 2), np.int16)
        return np.concatenate(parts).astype(np.int16, copy=False)
