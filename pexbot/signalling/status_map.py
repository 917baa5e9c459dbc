"""What an error status from a Conferencing Node means: the typed error for it (pure).

A 403 is told apart by the node's words (a dead token, hosts only) and by what was asked
(``take_floor``, a host-only function called as a guest); 502/503/504/529 mean the node is
unavailable. Reasons are cut to one short line.
"""

from __future__ import annotations

import json
from typing import Any

from pexbot.errors import (
    ApiError,
    BadRequest,
    ConferenceNotFound,
    FloorDenied,
    Forbidden,
    HostOnly,
    InvalidToken,
    NodeUnavailable,
    UnexpectedResponse,
)

__all__ = ["UNAVAILABLE_STATUSES", "error_for", "reason_of"]

UNAVAILABLE_STATUSES = frozenset({502, 503, 504, 529})

# Words in a 403 reason that mean "this token is no good" rather than "you may not do this".
_TOKEN_REASONS = (
    "invalid token",
    "token expired",
    "expired token",
    "token invalid",
    "unknown token",
)
# Words in a 403 reason that mean "hosts only" whatever role we believe we have.
_HOST_ONLY_REASONS = (
    "host only",
    "host-only",
    "hosts only",
    "only available to host",
    "requires host",
    "not a host",
)


def reason_of(result: Any) -> str:
    """The node's reason for an error, as one short line."""
    if result is None:
        return ""
    if isinstance(result, str):
        text = result
    else:
        text = json.dumps(result, separators=(",", ":"), default=str)
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


def error_for(
    endpoint: str,
    status: int,
    result: Any,
    *,
    host_only: bool = False,
    role: str | None = None,
    note: str = "",
) -> ApiError:
    """The typed error for an error status (pure; ``role`` is ``"HOST"`` or ``"GUEST"``).

    A 403 is ``InvalidToken`` when the node says so, ``FloorDenied`` on ``take_floor``,
    ``HostOnly`` when the function is host-only and we are a guest (or the node says hosts
    only), and ``Forbidden`` otherwise. ``note`` is added to the reason (why it was not retried).
    """
    reason = reason_of(result)
    if note:
        reason = f"{reason} ({note})" if reason else note
    lowered = reason.lower()
    if status == 400:
        return BadRequest(endpoint, status, reason)
    if status == 403:
        if any(word in lowered for word in _TOKEN_REASONS):
            return InvalidToken(endpoint, status, reason)
        if endpoint.endswith("take_floor"):
            return FloorDenied(endpoint, status, reason)
        guest = (role or "").upper() == "GUEST"
        if (host_only and guest) or any(word in lowered for word in _HOST_ONLY_REASONS):
            return HostOnly(endpoint, status, reason)
        return Forbidden(endpoint, status, reason)
    if status == 404:
        return ConferenceNotFound(endpoint, status, reason)
    if status in UNAVAILABLE_STATUSES:
        return NodeUnavailable(endpoint, status, reason)
    if 200 <= status < 300:
        # 2xx but the envelope says "failure": the node processed it and refused.
        return ApiError(endpoint, status, reason or "status: failure")
    return UnexpectedResponse(endpoint, status, reason)
