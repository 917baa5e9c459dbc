"""Generated sources: test pattern, tone, black, silence.

Picture and sound generation (:class:`PatternRenderer`, :func:`media.tone.tone_samples`) are pure
and separate from the tracks that pace them, so a later source that hands out encoded packets
can reuse the generators with an encoder instead of a track.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from av import AudioFrame, VideoFrame

from .clock import MediaClock, PacedAudioTrack, PacedVideoTrack, ms32
from .pattern import FRAME_MOD, code_size, draw_code
from .tone import ToneSpec, tone_samples

# 75 % colour bars (BT.601 limited range): white, yellow, cyan, green, magenta, red, blue, black
_BARS_YUV = (
    (180, 128, 128),
    (162, 44, 142),
    (131, 156, 44),
    (112, 72, 58),
    (84, 184, 198),
    (65, 100, 212),
    (35, 212, 114),
    (16, 128, 128),
)


def default_module(width: int, height: int) -> int:
    """Module size giving a code about a third of the picture high and wide."""
    return max(2, min(height // 28, width // 34))


class PatternRenderer:
    """Moving colour bars with a frame-number/timestamp code in the middle, as yuv420p arrays.

    The bars scroll ``speed`` pixels per frame, so encoders always have motion to code; the
    code changes every frame. ``render`` returns an array of shape (height * 3 // 2, width),
    the layout ``av.VideoFrame.from_ndarray(..., format="yuv420p")`` takes.
    """

    def __init__(
        self, width: int = 640, height: int = 360, *, module: int | None = None, speed: int = 4
    ) -> None:
        if width % 2 or height % 2 or width < 64 or height < 36:
            raise ValueError(f"pattern size must be even and at least 64x36, got {width}x{height}")
        self.width = width
        self.height = height
        self.module = module or default_module(width, height)
        self.speed = speed
        code_w, code_h = code_size(self.module)
        if code_w > width or code_h > height:
            raise ValueError(f"module {self.module} gives a {code_w}x{code_h} code: too big")
        self.code_x = (width - code_w) // 4 * 2
        self.code_y = (height - code_h) // 4 * 2
        self._code_box = (code_w, code_h)
        self._luma, self._chroma_u, self._chroma_v = self._background()

    def _background(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # twice as wide as the picture so a scrolled window is a plain slice
        w, h = self.width, self.height
        x = np.arange(2 * w)
        bar = (x * len(_BARS_YUV) // w) % len(_BARS_YUV)
        table = np.array(_BARS_YUV, np.int16)
        shade = (np.arange(h) * 40 // h - 20).astype(np.int16)  # a vertical gradient
        luma = np.clip(table[bar, 0][None, :] + shade[:, None], 0, 255).astype(np.uint8)
        xc = np.arange(w)  # chroma is half width: one chroma column per two luma columns
        cbar = (xc * 2 * len(_BARS_YUV) // w) % len(_BARS_YUV)
        u = np.tile(table[cbar, 1].astype(np.uint8), (h // 2, 1))
        v = np.tile(table[cbar, 2].astype(np.uint8), (h // 2, 1))
        return luma, u, v

    def render(self, number: int, timestamp_ms: int) -> npt.NDArray[np.uint8]:
        w, h = self.width, self.height
        offset = (number * self.speed) % w // 2 * 2
        out = np.empty((h * 3 // 2, w), np.uint8)
        out[:h] = self._luma[:, offset : offset + w]
        half = offset // 2
        u, v = chroma_planes(out, w, h)
        u[:] = self._chroma_u[:, half : half + w // 2]
        v[:] = self._chroma_v[:, half : half + w // 2]
        draw_code(
            out[:h],
            number % FRAME_MOD,
            timestamp_ms,
            x=self.code_x,
            y=self.code_y,
            module=self.module,
        )
        cw, ch = self._code_box
        cx, cy = self.code_x // 2, self.code_y // 2
        u[cy : cy + ch // 2, cx : cx + cw // 2] = 128
        v[cy : cy + ch // 2, cx : cx + cw // 2] = 128
        return out


def chroma_planes(
    packed: npt.NDArray[np.uint8], width: int, height: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Views of the U and V planes of a packed yuv420p array (``VideoFrame.to_ndarray``'s
    layout). By element, not by row: a quarter plane is not a whole number of rows when the
    height is not a multiple of 4 (160x90)."""
    flat = packed.reshape(-1)
    size, quarter = width * height, width * height // 4
    u = flat[size : size + quarter].reshape(height // 2, width // 2)
    v = flat[size + quarter : size + 2 * quarter].reshape(height // 2, width // 2)
    return u, v


class PatternVideoSource(PacedVideoTrack):
    """The test pattern as a paced track: frame ``k`` carries number ``k`` and its capture time."""

    def __init__(
        self,
        width: int = 640,
        height: int = 360,
        *,
        fps: float = 30.0,
        clock: MediaClock | None = None,
        module: int | None = None,
    ) -> None:
        super().__init__(fps=fps, clock=clock)
        self.renderer = PatternRenderer(width, height, module=module)

    async def render(self, index: int, t: float) -> VideoFrame:
        stamp = ms32(self.clock.wall_ms(t))
        frame = VideoFrame.from_ndarray(self.renderer.render(index, stamp), format="yuv420p")
        return frame


class BlackVideoSource(PacedVideoTrack):
    def __init__(
        self,
        width: int = 640,
        height: int = 360,
        *,
        fps: float = 15.0,
        clock: MediaClock | None = None,
    ) -> None:
        super().__init__(fps=fps, clock=clock)
        self.width = width
        self.height = height

    async def render(self, index: int, t: float) -> VideoFrame:
        return black_frame(self.width, self.height)


def black_frame(width: int, height: int) -> VideoFrame:
    data = np.full((height * 3 // 2, width), 128, np.uint8)
    data[:height] = 16
    return VideoFrame.from_ndarray(data, format="yuv420p")


def audio_frame(samples: npt.NDArray[np.int16], layout: str, sample_rate: int) -> AudioFrame:
    """A packed s16 frame from mono samples, duplicated into both channels for stereo."""
    channels = 2 if layout == "stereo" else 1
    packed = np.repeat(samples, channels) if channels > 1 else samples
    frame = AudioFrame.from_ndarray(packed.reshape(1, -1), format="s16", layout=layout)
    frame.sample_rate = sample_rate
    return frame


class ToneAudioSource(PacedAudioTrack):
    """The marker tone of :mod:`media.tone` as a paced track (20 ms frames, s16)."""

    def __init__(
        self,
        spec: ToneSpec | None = None,
        *,
        layout: str = "mono",
        clock: MediaClock | None = None,
    ) -> None:
        self.spec = spec or ToneSpec()
        super().__init__(sample_rate=self.spec.sample_rate, clock=clock)
        if layout not in ("mono", "stereo"):
            raise ValueError(f"layout must be mono or stereo, got {layout!r}")
        self.layout = layout

    async def render(self, index: int, first_sample: int, t: float) -> AudioFrame:
        epoch_ms = round(self.clock.start_wall_ms)
        samples = tone_samples(self.spec, first_sample, self.samples_per_frame, epoch_ms=epoch_ms)
        return audio_frame(samples, self.layout, self.sample_rate)


class SilenceAudioSource(PacedAudioTrack):
    def __init__(
        self, *, sample_rate: int = 48000, layout: str = "mono", clock: MediaClock | None = None
    ) -> None:
        super().__init__(sample_rate=sample_rate, clock=clock)
        self.layout = layout

    async def render(self, index: int, first_sample: int, t: float) -> AudioFrame:
        silence = np.zeros(self.samples_per_frame, np.int16)
        return audio_frame(silence, self.layout, self.sample_rate)
