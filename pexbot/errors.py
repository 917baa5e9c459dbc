"""Every exception pexbot raises, drawn in one place.

::

    PexbotError
    ├── TransportError            the node could not be reached (connect, TLS, timeout)
    ├── ApiError                  the node answered with an error status
    │   ├── BadRequest            400: the node rejected the request body
    │   ├── ConferenceNotFound    404
    │   ├── NodeUnavailable       502/503/504/529, or maintenance mode
    │   ├── UnexpectedResponse    a status or body the API does not describe
    │   └── Forbidden             403 on anything but request_token
    │       ├── HostOnly          a host-only function called with a guest token
    │       ├── InvalidToken      the token was refused (expired, released)
    │       └── FloorDenied       take_floor refused
    ├── JoinRefused               request_token answered 403: an outcome to act on
    │   ├── PinRequired           which PINs exist; ask again with ``pin``
    │   ├── InvalidPin
    │   ├── ExtensionRequired     Virtual Reception: ask again with the target alias
    │   ├── IdpRequired           SSO: choose an identity provider
    │   ├── SsoRedirectRequired   SSO: follow the redirect, come back with ``sso_token``
    │   └── JoinDenied            any other refusal, with the node's reason
    ├── SessionEnded              the session is over (disconnect event, token lost, closed)
    ├── CallError                 media call set-up or teardown failed
    │   ├── NegotiationError      SDP offer/answer could not be completed
    │   ├── IceTimeout            ICE did not connect in time
    │   └── DtlsTimeout           DTLS did not complete in time
    └── ConfigError               bad configuration (emulator config file, options)

Messages say what state things were in and never contain tokens or PINs.
"""

from __future__ import annotations

from collections.abc import Sequence


class PexbotError(Exception):
    """Root of every pexbot error."""


class TransportError(PexbotError):
    """The node could not be reached, or the connection broke mid-request."""


class ApiError(PexbotError):
    """The node answered ``status`` to ``endpoint`` with ``reason``."""

    def __init__(self, endpoint: str, status: int, reason: str = "") -> None:
        self.endpoint = endpoint
        self.status = status
        self.reason = reason
        detail = f": {reason}" if reason else ""
        super().__init__(f"{endpoint} answered HTTP {status}{detail}")


class BadRequest(ApiError):
    pass


class ConferenceNotFound(ApiError):
    pass


class NodeUnavailable(ApiError):
    pass


class UnexpectedResponse(ApiError):
    pass


class Forbidden(ApiError):
    pass


class HostOnly(Forbidden):
    """A host-only function was called by a participant whose role is GUEST."""

    def __init__(self, endpoint: str, status: int = 403, reason: str = "") -> None:
        super().__init__(endpoint, status, reason or "host-only function called as a guest")


class InvalidToken(Forbidden):
    pass


class FloorDenied(Forbidden):
    pass


class JoinRefused(PexbotError):
    """request_token was refused; subclasses say what to do next."""


class PinRequired(JoinRefused):
    def __init__(self, *, host_pin: bool, guest_pin: bool) -> None:
        self.host_pin = host_pin
        self.guest_pin = guest_pin
        which = []
        if host_pin:
            which.append("host PIN")
        if guest_pin:
            which.append("guest PIN")
        needs = " and ".join(which) or "no PIN"
        hint = "" if guest_pin or not host_pin else "; join as a guest with pin='none'"
        super().__init__(f"conference is PIN-protected (it has a {needs}){hint}")


class InvalidPin(JoinRefused):
    def __init__(self) -> None:
        super().__init__("the PIN was not accepted")


class ExtensionRequired(JoinRefused):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(
            f"alias is a Virtual Reception ({kind}); join again with conference_extension="
            "<target alias>"
        )


class IdpRequired(JoinRefused):
    def __init__(self, idps: Sequence[tuple[str, str]]) -> None:
        #: (uuid, name) of each identity provider on offer
        self.idps = list(idps)
        names = ", ".join(name for _, name in self.idps) or "none listed"
        super().__init__(f"conference requires SSO; choose an identity provider ({names})")


class SsoRedirectRequired(JoinRefused):
    def __init__(self, redirect_url: str, idp_uuid: str, idp_name: str) -> None:
        self.redirect_url = redirect_url
        self.idp_uuid = idp_uuid
        self.idp_name = idp_name
        super().__init__(
            f"SSO with {idp_name}: follow the redirect and join again with the sso_token"
        )


class JoinDenied(JoinRefused):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"join refused: {reason}")


class SessionEnded(PexbotError):
    """The session is over; ``reason`` says why (the node's words where it gave some)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"session ended: {reason}")


class CallError(PexbotError):
    pass


class NegotiationError(CallError):
    pass


class IceTimeout(CallError):
    pass


class DtlsTimeout(CallError):
    pass


class ConfigError(PexbotError):
    pass
