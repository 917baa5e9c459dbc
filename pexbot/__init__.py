"""pexbot: a headless WebRTC endpoint for Pexip Infinity."""

from .call import CallOptions, CallSignalling, CallState, CallStats, MediaCall, StreamStats
from .call import stats as call_stats  # noqa: F401  (pre-layout name, kept: public surface)
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
from .events.dispatch import EventIterator, Subscription
from .events.state import ConferenceState
from .presentation import PresentationController, SendingStopped
from .rtc.datachannel import ChatMessage
from .rtc.restart import RecoveryOptions
from .session import Session
from .signalling.api import BreakoutApi, CallApi, ConferenceApi, NodeApi, ParticipantApi, RoomApi
from .signalling.join import GUEST_PIN

__version__ = "0.1.0"

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
