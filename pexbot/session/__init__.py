"""One participant in one conference, from ``request_token`` to ``release_token``."""

from .session import Session

__all__ = ["Session"]
