"""Building a media backend from its name (``Emulator(media="compose")``, ``--media``).

Apart from the seam (:mod:`.backend`) because the seam is what the backends import: were the
choice there, the seam and the backends would import each other.
"""

from __future__ import annotations

from .backend import MEDIA_CHOICES, MediaBackend, MediaChoice, NullMediaBackend

__all__ = ["MEDIA_CHOICES", "MediaChoice", "make_media_backend"]


def make_media_backend(
    choice: MediaChoice = "compose", *, size: tuple[int, int] = (640, 360), fps: float = 15.0
) -> MediaBackend:
    """A backend by name; ``size`` and ``fps`` are those of the pictures the node sends."""
    if choice == "none":
        return NullMediaBackend()
    if choice not in MEDIA_CHOICES:
        raise ValueError(f"unknown media backend {choice!r}; choose one of {MEDIA_CHOICES}")
    # aiortc is imported only when media is wanted.
    from .aiortc_backend import AiortcMediaBackend

    if choice == "relay":
        return AiortcMediaBackend(card_size=size, fps=fps)
    if choice == "forward":
        # Nothing is decoded or encoded: the participants' own pictures go through as sent.
        from .forward import ForwardBackend

        return ForwardBackend()
    from .compositor import compose_router_factory

    return AiortcMediaBackend(
        router_factory=compose_router_factory(size=size, fps=fps), card_size=size, fps=fps
    )
