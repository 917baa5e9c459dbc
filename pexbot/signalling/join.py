"""``request_token``: asking to join, and turning every refusal into an outcome to act on.

The node refuses a join with 403 and a ``result`` that says what it wants next:

===========================================  =============================================
``result``                                    raised
===========================================  =============================================
``{"pin": ..., "guest_pin": ...}``            ``PinRequired`` (which PINs exist)
``"Invalid PIN"``                             ``InvalidPin``
``{"conference_extension": "required"}``      ``ExtensionRequired``: Virtual Reception; ask
                                              again with ``conference_extension=<alias>``
``{"idp": [...]}``                            ``IdpRequired``: ask again with ``chosen_idp``
``{"redirect_url": ..., "redirect_idp": ..}`` ``SsoRedirectRequired``: follow it, then ask
                                              again with ``sso_token``
any other string                              ``JoinDenied`` with the node's reason
===========================================  =============================================

404 is ``ConferenceNotFound``; 502/503/504/529 ``NodeUnavailable``. Nothing here retries on
its own: each outcome goes back to the caller, which asks again with what was missing (this is
what Pexip's own client does, too).

Joining as a guest of a conference that only has a host PIN takes ``pin="none"`` (the literal
string; the spec's spelling). ``pin=None`` sends no ``pin`` header at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pexbot import wire
from pexbot.errors import (
    ConferenceNotFound,
    ExtensionRequired,
    IdpRequired,
    InvalidPin,
    JoinDenied,
    NodeUnavailable,
    PexbotError,
    PinRequired,
    SsoRedirectRequired,
)
from pexbot.signalling.api.base import parse

from .http import UNAVAILABLE_STATUSES, ApiTransport, error_for, reason_of

log = logging.getLogger(__name__)

#: ``pin`` value that joins as a guest where only a host PIN exists
GUEST_PIN = "none"


@dataclass(frozen=True)
class JoinRequest:
    """What to join with. Secrets (``pin``, ``sso_token``, ``join_token``) stay out of reprs."""

    display_name: str = "pexbot"
    pin: str | None = field(default=None, repr=False)
    call_tag: str | None = None
    direct_media: bool = False
    conference_extension: str | None = None
    chosen_idp: str | None = None
    sso_token: str | None = field(default=None, repr=False)
    #: one-time token from a ``refer`` event or ``request_guest_token``
    join_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    supports_direct_chat: bool | None = None

    def body(self) -> wire.RequestTokenBody:
        return wire.RequestTokenBody(
            display_name=self.display_name,
            call_tag=self.call_tag,
            direct_media=self.direct_media,
            conference_extension=self.conference_extension,
            chosen_idp=self.chosen_idp,
            sso_token=self.sso_token,
            token=self.join_token,
            client_id=self.client_id,
            supports_direct_chat=self.supports_direct_chat,
        )


def refusal(status: int, result: Any) -> PexbotError:
    """The typed outcome of a ``request_token`` that did not succeed (pure)."""
    endpoint = "request_token"
    if status in (403, 415):
        return _forbidden_outcome(result)
    if status == 404:
        return ConferenceNotFound(endpoint, status, reason_of(result) or "no such conference")
    if status in UNAVAILABLE_STATUSES:
        return NodeUnavailable(endpoint, status, reason_of(result))
    return error_for(endpoint, status, result)


def _forbidden_outcome(result: Any) -> PexbotError:
    if isinstance(result, str):
        if "invalid pin" in result.lower():
            return InvalidPin()
        return JoinDenied(reason_of(result) or "refused")
    if not isinstance(result, dict):
        return JoinDenied(reason_of(result) or "refused")
    if "redirect_url" in result:
        redirect = parse(wire.SsoRedirect, result, "request_token")
        return SsoRedirectRequired(
            redirect.redirect_url, redirect.redirect_idp.uuid, redirect.redirect_idp.name
        )
    if "idp" in result:
        choice = parse(wire.IdpChoice, result, "request_token")
        return IdpRequired([(idp.uuid, idp.name) for idp in choice.idp])
    if result.get("conference_extension") == "required":
        kind = str(result.get("conference_extension_type") or "standard")
        return ExtensionRequired(kind)
    if "pin" in result or "guest_pin" in result:
        return PinRequired(
            host_pin=result.get("pin") == "required",
            guest_pin=result.get("guest_pin") == "required",
        )
    return JoinDenied(reason_of(result) or "refused")


async def request_token(transport: ApiTransport, request: JoinRequest) -> wire.RequestTokenResult:
    """Ask to join; the token result, or the typed refusal (see the module docstring)."""
    raw = await transport.request(
        "POST",
        "request_token",
        json=request.body().body(),
        pin=request.pin,
        raise_for_status=False,
    )
    if not raw.ok or raw.envelope_status in ("failure", "failed"):
        outcome = refusal(raw.status, raw.result)
        log.info("request_token refused: %s", outcome)
        raise outcome
    info = parse(wire.RequestTokenResult, raw.result, "request_token")
    transport.role = info.role
    log.info(
        "joined %s as %s (%s), participant %s, token lifetime %s s",
        transport.alias,
        info.role,
        info.current_service_type,
        info.participant_uuid,
        info.expires,
    )
    return info
