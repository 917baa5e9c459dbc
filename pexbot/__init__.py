"""pexbot: a headless WebRTC endpoint for Pexip Infinity."""

from .api import BreakoutApi, CallApi, ConferenceApi, NodeApi, ParticipantApi, RoomApi
from .call import CallOptions, CallSignalling, CallState, MediaCall
from .call_stats import CallStats, StreamStats
from .datachannel import ChatMessage
from .dispatch import EventIterator, Subscription
from .errors import (
    ApiError,
    BadRequest,
    CallError,
    ConferenceNotFound,
    ConfigError,
    DtlsTimeout,
    ExtensionRequired,
    FloorDenied,
    Forbidden,
    HostOnly,
    IceTimeout,
    IdpRequired,
    InvalidPin,
    InvalidToken,
    JoinDenied,
    JoinRefused,
    NegotiationError,
    NodeUnavailable,
    PexbotError,
    PinRequired,
    SessionEnded,
    SsoRedirectRequired,
    TransportError,
    UnexpectedResponse,
)
from .events import Event, EventName, SessionEndedEvent
from .join import GUEST_PIN
from .restart import RecoveryOptions
from .session import Session
from .state import ConferenceState

__version__ = "0.1.0"

from .presentation import PresentationController, SendingStopped

__all__ = [
    "GUEST_PIN",
    "ApiError",
    "BadRequest",
    "BreakoutApi",
    "CallApi",
    "CallError",
    "CallOptions",
    "CallSignalling",
    "CallState",
    "CallStats",
    "ChatMessage",
    "ConferenceApi",
    "ConferenceNotFound",
    "ConferenceState",
    "ConfigError",
    "DtlsTimeout",
    "Event",
    "EventIterator",
    "EventName",
    "ExtensionRequired",
    "FloorDenied",
    "Forbidden",
    "HostOnly",
    "IceTimeout",
    "IdpRequired",
    "InvalidPin",
    "InvalidToken",
    "JoinDenied",
    "JoinRefused",
    "MediaCall",
    "NegotiationError",
    "NodeApi",
    "NodeUnavailable",
    "ParticipantApi",
    "PexbotError",
    "PinRequired",
    "PresentationController",
    "RecoveryOptions",
    "RoomApi",
    "SendingStopped",
    "Session",
    "SessionEnded",
    "SessionEndedEvent",
    "SsoRedirectRequired",
    "StreamStats",
    "Subscription",
    "TransportError",
    "UnexpectedResponse",
    "__version__",
]
