"""Typed methods for every request of the client REST API v2.

``ConferenceApi`` (main room) and ``BreakoutApi`` share ``RoomApi``; ``ParticipantApi`` and
``CallApi`` act on one participant / one call, in whichever room their prefix names;
``NodeApi`` asks the node itself. They are usually reached through a ``pexbot.Session``.
"""

from .base import ApiContext
from .breakout import BreakoutApi
from .call import CallApi
from .conference import ConferenceApi
from .misc import NodeApi
from .participant import ParticipantApi
from .room import RoomApi

__all__ = [
    "ApiContext",
    "BreakoutApi",
    "CallApi",
    "ConferenceApi",
    "NodeApi",
    "ParticipantApi",
    "RoomApi",
]
