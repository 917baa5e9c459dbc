"""A 2-D code carrying a frame number and a capture timestamp, drawn into and read from pictures.

Pure numpy, no I/O. The code is built to survive lossy video coding and being scaled into one
tile of a composed layout, and to be found anywhere in a picture:

* Geometry, in modules (one module = ``module`` pixels when drawn)::

      quiet zone (1 module, white) around a 28 x 7 body:
      [finder 7x7][sep][ 12 x 7 data cells ][sep][finder 7x7]

  The finders are QR-style (black ring, white ring, 3x3 black centre), so every row and column
  through a finder centre crosses runs in the ratio 1:1:3:1:1 whatever the scale. Two finders
  in one row give the horizontal scale exactly (their centres are 21 modules apart); the
  vertical scale comes from the finders' own height. Only axis-aligned scaling and translation
  are expected (what a conference layout does), not rotation.
* Payload: 84 bits = 24-bit frame number, 32-bit capture timestamp (ms, wrapping), 28-bit
  check (low bits of CRC-32 over the payload), XORed with a fixed mask so that small numbers
  do not draw large blank areas. A random read passes the check with probability 2**-28.
* Decoding works on luma only: threshold, find 1:1:3:1:1 runs along rows and along columns
  (vectorised over the whole picture), keep points where both agree, pair finders that sit
  in one row at the right distance for their size, sample the 84 cells, check.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BODY_W = 28
BODY_H = 7
QUIET = 1
FINDER = 7
DATA_COL0 = FINDER + 1
DATA_COLS = BODY_W - 2 * (FINDER + 1)
DATA_BITS = DATA_COLS * BODY_H
FINDER_SPAN = BODY_W - FINDER  # distance between the two finder centres, in modules
FRAME_BITS = 24
TIME_BITS = 32
CHECK_BITS = DATA_BITS - FRAME_BITS - TIME_BITS
FRAME_MOD = 1 << FRAME_BITS
TIME_MOD = 1 << TIME_BITS

BLACK = 0
WHITE = 255

_MASK = np.random.default_rng(0x5EB07).integers(0, 2, DATA_BITS, dtype=np.uint8)

U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Code:
    """One code read from a picture. ``x``/``y`` is the left finder's centre in pixels."""

    number: int
    timestamp_ms: int
    x: float
    y: float
    module_x: float
    module_y: float


def code_size(module: int) -> tuple[int, int]:
    """Width and height in pixels of a code drawn with ``module`` pixels per module."""
    return (BODY_W + 2 * QUIET) * module, (BODY_H + 2 * QUIET) * module


def _check(number: int, timestamp_ms: int) -> int:
    payload = number.to_bytes(3, "big") + timestamp_ms.to_bytes(4, "big")
    return zlib.crc32(payload) & ((1 << CHECK_BITS) - 1)


def encode_bits(number: int, timestamp_ms: int) -> U8:
    """The 84 masked data bits (row-major over the 12 x 7 data cells)."""
    number %= FRAME_MOD
    timestamp_ms %= TIME_MOD
    value = (number << (TIME_BITS + CHECK_BITS)) | (timestamp_ms << CHECK_BITS)
    value |= _check(number, timestamp_ms)
    bits = np.array([(value >> (DATA_BITS - 1 - i)) & 1 for i in range(DATA_BITS)], np.uint8)
    return bits ^ _MASK


def decode_bits(bits: U8) -> tuple[int, int] | None:
    """Inverse of :func:`encode_bits`; None when the check fails."""
    plain = bits.astype(np.uint8) ^ _MASK
    value = int("".join("1" if b else "0" for b in plain.tolist()), 2)
    check = value & ((1 << CHECK_BITS) - 1)
    timestamp_ms = (value >> CHECK_BITS) & (TIME_MOD - 1)
    number = value >> (TIME_BITS + CHECK_BITS)
    if _check(number, timestamp_ms) != check:
        return None
    return number, timestamp_ms


def _module_grid(number: int, timestamp_ms: int) -> U8:
    """The whole code including quiet zone, one byte per module (0 black, 1 white)."""
    grid = np.ones((BODY_H + 2 * QUIET, BODY_W + 2 * QUIET), np.uint8)
    finder = np.zeros((FINDER, FINDER), np.uint8)
    finder[1:-1, 1:-1] = 1
    finder[2:-2, 2:-2] = 0
    q = QUIET
    grid[q : q + FINDER, q : q + FINDER] = finder
    grid[q : q + FINDER, q + FINDER_SPAN : q + BODY_W] = finder
    data = 1 - encode_bits(number, timestamp_ms).reshape(BODY_H, DATA_COLS)  # bit 1 = black
    grid[q : q + BODY_H, q + DATA_COL0 : q + DATA_COL0 + DATA_COLS] = data
    return grid


def draw_code(
    frame: U8, number: int, timestamp_ms: int, *, x: int = 0, y: int = 0, module: int = 12
) -> tuple[int, int, int, int]:
    """Draw a code with its top-left (quiet zone included) at ``(x, y)``.

    ``frame`` is a luma plane (H x W) or an RGB picture (H x W x 3), modified in place. Returns
    the box drawn as ``(x, y, width, height)``; the caller neutralises chroma there if it has any.
    """
    width, height = code_size(module)
    if x < 0 or y < 0 or x + width > frame.shape[1] or y + height > frame.shape[0]:
        raise ValueError(
            f"a code of {width}x{height} px at ({x}, {y}) does not fit a "
            f"{frame.shape[1]}x{frame.shape[0]} picture"
        )
    grid = _module_grid(number, timestamp_ms)
    pixels = np.repeat(np.repeat(grid, module, axis=0), module, axis=1) * np.uint8(WHITE)
    if frame.ndim == 3:
        frame[y : y + height, x : x + width, :] = pixels[:, :, None]
    else:
        frame[y : y + height, x : x + width] = pixels
    return x, y, width, height


def to_luma(image: npt.NDArray[np.generic]) -> U8:
    """Luma of a grey (H x W) or RGB (H x W x 3) picture, as uint8."""
    if image.ndim == 2:
        return np.asarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] >= 3:
        rgb = image[:, :, :3].astype(np.uint16)
        luma = (rgb[:, :, 0] * 77 + rgb[:, :, 1] * 150 + rgb[:, :, 2] * 29) >> 8
        return luma.astype(np.uint8)
    raise ValueError(f"expected a H x W luma or H x W x 3 RGB array, got shape {image.shape}")


# --- decoding -------------------------------------------------------------------------------

_MIN_RUN_TOTAL = 14  # a finder at least 2 px per module
_GRID = 2  # pixels per bin of the hit maps


def _finder_hits(dark: npt.NDArray[np.bool_]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs in the ratio 1:1:3:1:1 (dark first) along each row: (row, centre, total length)."""
    height, width = dark.shape
    change = np.empty_like(dark)
    change[:, 0] = True
    np.not_equal(dark[:, 1:], dark[:, :-1], out=change[:, 1:])
    starts = np.flatnonzero(change)
    if starts.size < 5:
        empty = np.empty(0, np.int64)
        return empty, empty.astype(np.float64), empty
    bounds = np.append(starts, height * width)
    lengths = np.diff(bounds)
    rows = starts // width
    colour = dark.ravel()[starts]
    n = starts.size - 4
    total5 = bounds[5:] - bounds[:n]  # length of runs i .. i+4 together
    # cheap tests first: most runs in busy pictures are short or cross a row end
    first = np.flatnonzero((total5 >= _MIN_RUN_TOTAL) & colour[:n] & (rows[:n] == rows[4:]))
    l0, l1, l2, l3, l4 = (lengths[first + k] for k in range(5))
    total = total5[first]
    mod = total / 7.0
    tol = mod * 0.55
    ok = np.abs(l2 - 3 * mod) <= mod * 1.6
    for run in (l0, l1, l3, l4):
        ok &= np.abs(run - mod) <= tol
    sel = first[ok]
    row = rows[sel]
    centre = (starts[sel + 2] - row * width) + lengths[sel + 2] / 2.0
    return row, centre, total[ok]


def _box_sum(counts: np.ndarray, ry: int, rx: int) -> np.ndarray:
    """Sum over a (2ry+1) x (2rx+1) window, zero padded."""
    padded = np.pad(counts, ((ry + 1, ry), (rx + 1, rx)))
    csum = padded.cumsum(0).cumsum(1)
    h, w = counts.shape
    wy, wx = 2 * ry + 1, 2 * rx + 1
    total: np.ndarray = (
        csum[wy : wy + h, wx : wx + w]
        - csum[0:h, wx : wx + w]
        - csum[wy : wy + h, 0:w]
        + csum[0:h, 0:w]
    )
    return total


@dataclass(frozen=True, slots=True)
class _Finder:
    x: float
    y: float
    mod_x: float
    mod_y: float


def _locate_finders(dark: npt.NDArray[np.bool_]) -> list[_Finder]:
    h_row, h_x, h_tot = _finder_hits(dark)
    v_col, v_y, v_tot = _finder_hits(np.ascontiguousarray(dark.T))
    if h_row.size == 0 or v_col.size == 0:
        return []
    bh = (dark.shape[0] + _GRID - 1) // _GRID
    bw = (dark.shape[1] + _GRID - 1) // _GRID
    hmap = np.zeros((bh, bw), np.int32)
    np.add.at(hmap, (h_row // _GRID, (h_x // _GRID).astype(np.int64)), 1)
    vmap = np.zeros((bh, bw), np.int32)
    np.add.at(vmap, ((v_y // _GRID).astype(np.int64), v_col // _GRID), 1)
    hsum = _box_sum(hmap, 2, 1)
    vsum = _box_sum(vmap, 1, 2)
    score = np.minimum(hsum, vsum)
    by, bx = np.nonzero(score >= 2)
    if by.size == 0:
        return []
    order = np.argsort(-score[by, bx], kind="stable")
    kept: list[tuple[float, float]] = []
    finders: list[_Finder] = []
    for i in order[:400].tolist():
        cy = (by[i] + 0.5) * _GRID
        cx = (bx[i] + 0.5) * _GRID
        if any(abs(cx - kx) < 8 and abs(cy - ky) < 8 for kx, ky in kept):
            continue
        kept.append((cx, cy))
        finder = _refine(cx, cy, h_row, h_x, h_tot, v_col, v_y, v_tot)
        if finder is not None:
            finders.append(finder)
    return _dedupe(finders)


def _refine(
    cx: float,
    cy: float,
    h_row: np.ndarray,
    h_x: np.ndarray,
    h_tot: np.ndarray,
    v_col: np.ndarray,
    v_y: np.ndarray,
    v_tot: np.ndarray,
) -> _Finder | None:
    """Centre and module size from the hits that cross near (cx, cy)."""
    near_h = np.abs(h_x - cx) <= 4
    near_h &= np.abs(h_row - cy) <= np.maximum(h_tot * (1.6 / 7), 4)
    near_v = np.abs(v_y - cy) <= 4
    near_v &= np.abs(v_col - cx) <= np.maximum(v_tot * (1.6 / 7), 4)
    if near_h.sum() < 2 or near_v.sum() < 2:
        return None
    mod_x = float(np.median(h_tot[near_h])) / 7.0
    mod_y = float(np.median(v_tot[near_v])) / 7.0
    x = float(np.median(h_x[near_h]))
    y = float(np.median(v_y[near_v]))
    if not 0.5 < mod_x / mod_y < 2.0:
        return None
    return _Finder(x, y, mod_x, mod_y)


def _dedupe(finders: list[_Finder]) -> list[_Finder]:
    out: list[_Finder] = []
    for f in finders:
        if all(abs(f.x - g.x) > g.mod_x or abs(f.y - g.y) > g.mod_y for g in out):
            out.append(f)
    return out


def _sample_offsets(module: float) -> np.ndarray:
    reach = int(module * 0.22)
    return np.arange(-reach, reach + 1)


_CELL_U = (np.arange(DATA_COLS) + DATA_COL0 + 0.5 - FINDER / 2).astype(np.float64)
_CELL_V = (np.arange(BODY_H) + 0.5 - FINDER / 2).astype(np.float64)


def _read_pair(luma: U8, left: _Finder, right: _Finder) -> Code | None:
    height, width = luma.shape
    mod_x = (right.x - left.x) / FINDER_SPAN
    mod_y = (left.mod_y + right.mod_y) / 2.0
    # the rows through the two finder centres may differ slightly (rounding): interpolate
    slope = (right.y - left.y) / (right.x - left.x)
    xs = left.x + _CELL_U * mod_x
    ys = left.y + _CELL_V[:, None] * mod_y + slope * (xs[None, :] - left.x)
    ox = _sample_offsets(mod_x)
    oy = _sample_offsets(mod_y)
    px = np.floor(xs[None, :, None, None] + ox[None, None, None, :]).astype(np.int64)
    py = np.floor(ys[:, :, None, None] + oy[None, None, :, None]).astype(np.int64)
    px, py = np.broadcast_arrays(px, py)
    if px.min() < 0 or py.min() < 0 or px.max() >= width or py.max() >= height:
        return None
    cells = luma[py, px].reshape(BODY_H, DATA_COLS, -1).mean(axis=2)
    black, white = _references(luma, left, right)
    if white - black < 40:
        return None
    bits = (cells < (black + white) / 2.0).astype(np.uint8).ravel()
    decoded = decode_bits(bits)
    if decoded is None:
        return None
    return Code(decoded[0], decoded[1], left.x, left.y, mod_x, mod_y)


def _references(luma: U8, left: _Finder, right: _Finder) -> tuple[float, float]:
    """Mean luma of the finders' black centres and of their white rings."""
    blacks: list[float] = []
    whites: list[float] = []
    for f in (left, right):
        cx, cy = int(f.x), int(f.y)
        blacks.append(float(luma[cy, cx]))
        for dx, dy in ((-2, 0), (2, 0), (0, -2), (0, 2)):
            wx = int(f.x + dx * f.mod_x)
            wy = int(f.y + dy * f.mod_y)
            whites.append(float(luma[wy, wx]))
    return float(np.mean(blacks)), float(np.median(whites))


def find_codes(image: npt.NDArray[np.generic], *, threshold: int | None = None) -> list[Code]:
    """Every code in ``image`` (luma H x W or RGB H x W x 3), in no particular order.

    ``threshold`` separates dark from light; by default the midpoint of the picture's 2nd and
    98th luma percentiles (sampled), which suits the full-contrast code on any background.
    """
    luma = to_luma(image)
    if threshold is None:
        sample = luma[::7, ::7]
        lo, hi = np.percentile(sample, (2, 98))
        threshold = int((lo + hi) / 2) if hi - lo >= 60 else 128
    dark = luma < threshold
    finders = _locate_finders(dark)
    codes: list[Code] = []
    used: set[int] = set()
    for i, left in enumerate(finders):
        for j, right in enumerate(finders):
            if i == j or j in used:
                continue
            dx = right.x - left.x
            if dx <= 0 or abs(right.y - left.y) > 0.8 * left.mod_y:
                continue
            expected = FINDER_SPAN * (left.mod_x + right.mod_x) / 2.0
            if not 0.8 < dx / expected < 1.25:
                continue
            code = _read_pair(luma, left, right)
            if code is not None:
                codes.append(code)
                used.add(j)
                break
    return codes
