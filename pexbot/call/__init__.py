"""One media call with a Pexip node: its negotiation, presenting line, controls, supervision.

:class:`MediaCall` is thin: it wires its parts together, each an object that owns its state.
See ``docs/architecture.md`` for who owns what.
"""

from .media_call import MediaCall
from .options import CallOptions, CallTimings
from .signalling import CallSignalling, CallState
from .slot import CallSlot
from .stats import CallStats, StreamStats

__all__ = [
    "CallOptions",
    "CallSignalling",
    "CallSlot",
    "CallState",
    "CallStats",
    "CallTimings",
    "MediaCall",
    "StreamStats",
]
