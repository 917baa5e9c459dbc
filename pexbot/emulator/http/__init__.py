"""The emulator's HTTP face: the aiohttp application, its routes, middleware and traffic log."""

from .app import build_app
from .traffic import Exchange, Traffic

__all__ = ["Exchange", "Traffic", "build_app"]
