"""Talking to a Conferencing Node over the client REST API v2.

One HTTP exchange and what its status means (:mod:`.http`), asking to join and every refusal
as an outcome (:mod:`.join`), keeping the token alive (:mod:`.token`), backoff for retries
(:mod:`.backoff`), which requests may be sent again after a failure (:mod:`.retry`), and a
typed method for every request (:mod:`.api`). Payloads are :mod:`pexbot.wire` models; nothing
here knows about media or events.
"""

from .api import BreakoutApi, CallApi, ConferenceApi, NodeApi, ParticipantApi, RoomApi
from .backoff import Backoff
from .http import ApiTransport, RawResponse
from .join import GUEST_PIN, JoinRequest
from .retry import RejoinPolicy, RetryPolicy, RetryStats, is_idempotent
from .token import TokenKeeper, TokenSchedule

__all__ = [
    "GUEST_PIN",
    "ApiTransport",
    "Backoff",
    "BreakoutApi",
    "CallApi",
    "ConferenceApi",
    "JoinRequest",
    "NodeApi",
    "ParticipantApi",
    "RawResponse",
    "RejoinPolicy",
    "RetryPolicy",
    "RetryStats",
    "RoomApi",
    "TokenKeeper",
    "TokenSchedule",
    "is_idempotent",
]
