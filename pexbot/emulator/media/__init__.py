"""The emulator's media: the backend seam, the choice of backend (:mod:`.choice`), the aiortc
backend, the composing router (layouts, canvas, audio mix, speakers) and the path relay for
media faults."""

from .backend import (
    CallContext,
    ComposingBackend,
    MediaBackend,
    MediaChoice,
    MediaView,
    NullMediaBackend,
)

__all__ = [
    "CallContext",
    "ComposingBackend",
    "MediaBackend",
    "MediaChoice",
    "MediaView",
    "NullMediaBackend",
]
