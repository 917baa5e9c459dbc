"""A still image (anything av can decode: PNG, JPEG, ...) repeated as a paced video track."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av import VideoFrame

from .clock import MediaClock, PacedVideoTrack
from .errors import SourceError


def fit_picture(frame: VideoFrame, width: int, height: int) -> npt.NDArray[np.uint8]:
    """``frame`` scaled to fit ``width`` x ``height`` keeping its aspect, centred on black.

    Returns a yuv420p array (height * 3 // 2, width).
    """
    if width % 2 or height % 2:
        raise ValueError(f"picture size must be even, got {width}x{height}")
    scale = min(width / frame.width, height / frame.height)
    sw = max(2, min(width, round(frame.width * scale / 2) * 2))
    sh = max(2, min(height, round(frame.height * scale / 2) * 2))
    scaled = frame.reformat(width=sw, height=sh, format="yuv420p").to_ndarray()
    out = np.full((height * 3 // 2, width), 128, np.uint8)
    out[:height] = 16
    x, y = (width - sw) // 4 * 2, (height - sh) // 4 * 2
    out[y : y + sh, x : x + sw] = scaled[:sh]
    u_src = scaled[sh : sh + sh // 4].reshape(sh // 2, sw // 2)
    v_src = scaled[sh + sh // 4 :].reshape(sh // 2, sw // 2)
    u = out[height : height + height // 4].reshape(height // 2, width // 2)
    v = out[height + height // 4 :].reshape(height // 2, width // 2)
    u[y // 2 : (y + sh) // 2, x // 2 : (x + sw) // 2] = u_src
    v[y // 2 : (y + sh) // 2, x // 2 : (x + sw) // 2] = v_src
    return out


def load_picture(path: str | Path, width: int, height: int) -> npt.NDArray[np.uint8]:
    """Decode the first picture of ``path`` and fit it (see :func:`fit_picture`)."""
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return fit_picture(frame, width, height)
    except (av.error.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot decode an image from {path}: {exc}") from exc
    raise SourceError(f"{path} holds no picture")


class ImageVideoSource(PacedVideoTrack):
    """``path`` fitted into ``width`` x ``height`` (letterboxed), sent ``fps`` times a second.

    The constructor decodes the image (small, local files); use :meth:`open` to do that in a
    thread.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int = 640,
        height: int = 360,
        fps: float = 5.0,
        clock: MediaClock | None = None,
        _picture: npt.NDArray[np.uint8] | None = None,
    ) -> None:
        super().__init__(fps=fps, clock=clock)
        self.path = str(path)
        self.picture = _picture if _picture is not None else load_picture(path, width, height)

    @classmethod
    async def open(cls, path: str | Path, **options: Any) -> ImageVideoSource:
        width = int(options.get("width", 640))
        height = int(options.get("height", 360))
        picture = await asyncio.to_thread(load_picture, path, width, height)
        return cls(path, _picture=picture, **options)

    async def render(self, index: int, t: float) -> VideoFrame:
        # a new frame each time: consumers re-stamp and may hold on to earlier ones
        return VideoFrame.from_ndarray(self.picture, format="yuv420p")
