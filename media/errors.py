"""Every exception the media package raises derives from :class:`MediaError`."""

from __future__ import annotations


class MediaError(Exception):
    """Base of all media errors."""


class TrackStoppedError(MediaError):
    """An operation needs a live track, and this one has been stopped."""


class SourceError(MediaError):
    """A source could not be opened or produced something it cannot deliver."""
