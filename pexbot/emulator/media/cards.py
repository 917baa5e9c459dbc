"""The emulator's "waiting" picture: what a participant sees when nobody else is there.

A 4x4 checkerboard of two saturated colours with WAITING written across the middle. The
corner cells stay clear of the text, so :func:`is_waiting_card` recognises the card after
lossy encoding at any size by sampling them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from av import VideoFrame

#: RGB of the checkerboard's two colours; the top-left cell has the first.
CARD_COLOURS: tuple[tuple[int, int, int], tuple[int, int, int]] = ((32, 96, 224), (240, 200, 32))
_TOLERANCE = 48

_FONT = {
    "W": ("10001", "10001", "10001", "10101", "10101", "10101", "01010"),
    "A": ("01110", "10001", "10001", "11111", "10001", "10001", "10001"),
    "I": ("11111", "00100", "00100", "00100", "00100", "00100", "11111"),
    "T": ("11111", "00100", "00100", "00100", "00100", "00100", "00100"),
    "N": ("10001", "11001", "10101", "10011", "10001", "10001", "10001"),
    "G": ("01110", "10001", "10000", "10111", "10001", "10001", "01110"),
}


def _text_mask(text: str) -> npt.NDArray[np.bool_]:
    glyphs = [np.array([[c == "1" for c in row] for row in _FONT[ch]]) for ch in text]
    gap = np.zeros((7, 1), dtype=bool)
    parts: list[npt.NDArray[np.bool_]] = []
    for glyph in glyphs:
        parts += [glyph, gap]
    return np.hstack(parts[:-1])


def render_card(width: int, height: int, text: str = "WAITING") -> npt.NDArray[np.uint8]:
    """The card as an RGB array (height, width, 3)."""
    ys = (np.arange(height) * 4 // height)[:, None]
    xs = (np.arange(width) * 4 // width)[None, :]
    checker = (ys + xs) % 2
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[checker == 0] = CARD_COLOURS[0]
    image[checker == 1] = CARD_COLOURS[1]
    mask = _text_mask(text)
    scale = max(1, min(int(width * 0.8) // mask.shape[1], int(height * 0.25) // mask.shape[0]))
    big = np.kron(mask, np.ones((scale, scale), dtype=bool))
    top = (height - big.shape[0]) // 2
    left = (width - big.shape[1]) // 2
    band = image[top - scale : top + big.shape[0] + scale, :]
    band[...] = (20, 20, 20)  # a dark band keeps the white text readable on both colours
    region = image[top : top + big.shape[0], left : left + big.shape[1]]
    region[big] = (255, 255, 255)
    return image


class WaitingCard:
    """Makes card frames; the yuv420p picture is computed once per size."""

    def __init__(self, text: str = "WAITING") -> None:
        self._text = text
        self._planes: dict[tuple[int, int], npt.NDArray[np.uint8]] = {}

    def __call__(self, width: int, height: int) -> VideoFrame:
        width, height = width - width % 2, height - height % 2
        if (width, height) not in self._planes:
            rgb = VideoFrame.from_ndarray(render_card(width, height, self._text), format="rgb24")
            yuv = np.asarray(rgb.reformat(format="yuv420p").to_ndarray(), dtype=np.uint8)
            self._planes[(width, height)] = yuv
        return VideoFrame.from_ndarray(self._planes[(width, height)], format="yuv420p")


def is_waiting_card(frame: VideoFrame) -> bool:
    """Whether a (decoded) frame shows the waiting card: its four corner cells match."""
    rgb = frame.to_ndarray(format="rgb24").astype(np.int16)
    height, width = rgb.shape[:2]
    expected = {(0, 0): 0, (0, 3): 1, (3, 0): 1, (3, 3): 0}
    half_h, half_w = max(1, height // 32), max(1, width // 32)
    for (row, col), colour in expected.items():
        cy = int((row + 0.5) * height / 4)
        cx = int((col + 0.5) * width / 4)
        patch = rgb[cy - half_h : cy + half_h, cx - half_w : cx + half_w].reshape(-1, 3)
        mean = patch.mean(axis=0)
        if np.abs(mean - np.array(CARD_COLOURS[colour])).max() > _TOLERANCE:
            return False
    return True
