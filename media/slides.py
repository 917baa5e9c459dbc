"""What an automated presenter can show: images, slide folders, video files, tracks.

An item (:class:`ImageItem`, :class:`VideoItem`, :class:`TrackItem`) checks its input when it is
made, so bad paths fail with a typed error before anything is sent, and can be played any number
of times: each :meth:`PresentationItem.open` gives a fresh :class:`~media.content.ItemFeed`.
"""

from __future__ import annotations

import asyncio
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import av
from aiortc.mediastreams import MediaStreamTrack
from av import VideoFrame

from .clock import MediaClock
from .content import (
    ContentCaps,
    ItemFeed,
    StillFeed,
    TrackFeed,
    VideoFeed,
    conform_frame,
    one_line,
    video_size,
)
from .errors import SourceError
from .file_source import FileSource

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm"})


class MissingSourceError(SourceError):
    """A path given as presentation content does not exist."""


class UnreadableImageError(SourceError):
    """An image file could not be decoded."""


class EmptyFolderError(SourceError):
    """A folder given as a slide deck holds no images."""


class UnreadableMediaError(SourceError):
    """av cannot open a file as video, or it has no video in it."""


# --- probing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaInfo:
    width: int
    height: int
    fps: float | None
    still: bool  # an image format rather than a video


def _require_file(path: Path) -> None:
    if not path.exists():
        raise MissingSourceError(f"presentation source {path} does not exist")
    if not path.is_file():
        raise UnreadableMediaError(f"presentation source {path} is not a file")


def probe_media(path: str | Path) -> MediaInfo:
    """The first video stream of ``path``; typed errors for anything that cannot be shown."""
    p = Path(path)
    _require_file(p)
    try:
        with av.open(str(p)) as container:
            if container.format.name == "tty":
                raise UnreadableMediaError(f"{p} is not a video or image file (av reads text)")
            if not container.streams.video:
                raise UnreadableMediaError(f"{p} has no video stream")
            stream = container.streams.video[0]
            rate = float(stream.average_rate) if stream.average_rate else None
            name = container.format.name
            still = name == "image2" or name.endswith("_pipe")
            return MediaInfo(stream.width, stream.height, rate, still)
    except (av.error.FFmpegError, OSError) as exc:
        raise UnreadableMediaError(f"cannot open {p} as video: {one_line(exc)}") from exc


def load_still(path: str | Path, caps: ContentCaps) -> VideoFrame:
    """The first picture of ``path``, conformed to ``caps`` (decode and scale: use a thread)."""
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return conform_frame(frame, caps)
    except (av.error.FFmpegError, OSError) as exc:
        raise UnreadableImageError(f"cannot decode image {path}: {one_line(exc)}") from exc
    raise UnreadableImageError(f"image {path} holds no picture")


# --- items -----------------------------------------------------------------------------------


class PresentationItem(ABC):
    """Something to present; each :meth:`open` plays it once from the start."""

    label: str

    @abstractmethod
    async def open(self, caps: ContentCaps) -> ItemFeed:
        """A fresh feed; raises :class:`SourceError` if the content cannot be played now."""


class ImageItem(PresentationItem):
    """A still image shown for ``seconds``, sent ``fps`` times a second (default: caps')."""

    def __init__(self, path: str | Path, *, seconds: float = 5.0, fps: float | None = None) -> None:
        if seconds <= 0:
            raise ValueError(f"an image is shown for a positive time, got {seconds}")
        self.path = Path(path)
        self.label = str(path)
        self.seconds = seconds
        self.fps = fps
        try:
            info = probe_media(self.path)
        except UnreadableMediaError as exc:
            raise UnreadableImageError(f"cannot read image {path}: {exc}") from exc
        if info.width <= 0 or info.height <= 0:
            raise UnreadableImageError(f"cannot read image {path}: no picture size in it")
        self.size = (info.width, info.height)

    async def open(self, caps: ContentCaps) -> ItemFeed:
        picture = await asyncio.to_thread(load_still, self.path, caps)
        return StillFeed(self.label, picture, self.seconds, caps.fps(self.fps, caps.still_fps))


class VideoItem(PresentationItem):
    """A media file's video, played once in real time, at most ``fps`` (default: caps')."""

    def __init__(self, path: str | Path, *, fps: float | None = None) -> None:
        self.path = Path(path)
        self.label = str(path)
        self.fps = fps
        self.info = probe_media(self.path)
        if self.info.width <= 0 or self.info.height <= 0:
            raise UnreadableMediaError(f"{path} has a video stream with no picture size")

    async def open(self, caps: ContentCaps) -> ItemFeed:
        native = self.info.fps or caps.video_fps
        fps = caps.fps(self.fps, min(native, caps.video_fps))
        size = video_size(self.info.width, self.info.height, caps)
        # only the video is presented: tell FileSource there is no audio so it decodes none
        source = FileSource(self.path, size=size, clock=MediaClock(), _probed=(False, True))
        return VideoFeed(self.label, source, fps, 1.0 / native)


TrackFactory = Callable[[], MediaStreamTrack]


class TrackItem(PresentationItem):
    """A video track the application supplies, shown until it ends or for ``seconds``.

    Given a track, the application owns it (it is not stopped here) and it can be played only
    once; given a factory, each play makes a new track and stops it afterwards.
    """

    def __init__(
        self,
        track: MediaStreamTrack | TrackFactory,
        *,
        seconds: float | None = None,
        fps: float | None = None,
        label: str = "application track",
    ) -> None:
        if isinstance(track, MediaStreamTrack) and track.kind != "video":
            raise ValueError(f"a presentation needs a video track, got {track.kind}")
        if seconds is not None and seconds <= 0:
            raise ValueError(f"seconds must be positive, got {seconds}")
        self.track = track
        self.seconds = seconds
        self.fps = fps
        self.label = label

    async def open(self, caps: ContentCaps) -> ItemFeed:
        owned = not isinstance(self.track, MediaStreamTrack)
        track = self.track() if not isinstance(self.track, MediaStreamTrack) else self.track
        if track.kind != "video":
            track.stop()
            raise SourceError(f"{self.label} made a {track.kind} track, not video")
        fps = caps.fps(self.fps, caps.max_fps)
        return TrackFeed(self.label, track, seconds=self.seconds, fps=fps, caps=caps, owned=owned)


# --- paths -----------------------------------------------------------------------------------


def _natural_key(path: Path) -> list[str | int]:
    # "slide2" before "slide10", as slide exports are numbered
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def deck_items(
    folder: str | Path, *, seconds: float = 5.0, fps: float | None = None
) -> list[ImageItem]:
    """The images in ``folder`` (by name, numbers in order), each shown for ``seconds``."""
    directory = Path(folder)
    if not directory.exists():
        raise MissingSourceError(f"slide folder {directory} does not exist")
    if not directory.is_dir():
        raise UnreadableMediaError(f"slide folder {directory} is not a folder")
    images = [
        p
        for p in directory.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    ]
    if not images:
        kinds = " ".join(sorted(IMAGE_SUFFIXES))
        raise EmptyFolderError(f"slide folder {directory} holds no images ({kinds})")
    return [ImageItem(p, seconds=seconds, fps=fps) for p in sorted(images, key=_natural_key)]


def items_from_paths(
    paths: Iterable[str | Path],
    *,
    seconds: float = 5.0,
    image_fps: float | None = None,
    video_fps: float | None = None,
) -> list[PresentationItem]:
    """Items for files and folders as a command line names them (blocking I/O: use a thread).

    A folder becomes its slide deck, an image an :class:`ImageItem`, anything else a
    :class:`VideoItem`.
    """
    items: list[PresentationItem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            items.extend(deck_items(path, seconds=seconds, fps=image_fps))
        elif path.suffix.lower() in IMAGE_SUFFIXES or probe_media(path).still:
            items.append(ImageItem(path, seconds=seconds, fps=image_fps))
        else:
            items.append(VideoItem(path, fps=video_fps))
    return items
