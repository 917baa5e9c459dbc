"""Checks recorded emulator traffic against Pexip's schemas (``schema_check.SchemaBook``).

``Conformance.check(exchange)`` sorts one ``pexbot.emulator.Exchange`` into what it proves:

- its request body checked against the endpoint's ``Body`` validator (when it has one);
- its response checked against the validator of its ``(endpoint, status)``: JSON as JSON,
  ``"text"`` content types as the string the SDK wrapper reads with ``res.text()``;
- an endpoint the schema index does not have (spec-only: ``clearspotlights``, ``status``,
  ``theme/<path>``, ``events`` ...) counted under "no schema" by emulator route name;
- a status the index does not list for that endpoint: a failure, unless ``ALLOWED_STATUSES``
  names it with a reason (then counted as "undocumented status").

Known divergences between the spec and the SDK-20 schemas are allow-listed in
``DIVERGENCES`` with their reason; they are counted and listed, never silently passed.
Nothing here does I/O except reading the schemas through the ``SchemaBook``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from schema_check import SchemaBook

from pexbot.emulator import Exchange

API_PREFIX = "/api/client/v2/"


@dataclass(frozen=True)
class Divergence:
    """A request or response the schema rejects for a documented reason."""

    function: str
    kind: str  # "body" or "response <status>"
    applies: Callable[[Any], bool]  # on the payload, before stripping
    reason: str


#: Where the published spec and the SDK-20 schemas disagree and pexbot follows the spec.
DIVERGENCES: tuple[Divergence, ...] = (
    Divergence(
        "callsWebrtcParticipant",
        "body",
        lambda body: isinstance(body, dict) and body.get("present") == "main",
        "spec documents present='main' (presentation in the main video); the SDK-20 schema "
        "only allows 'send'/'receive'",
    ),
    Divergence(
        "breakoutCallsWebrtcParticipant",
        "body",
        lambda body: isinstance(body, dict) and body.get("present") == "main",
        "spec documents present='main'; the SDK-20 schema only allows 'send'/'receive'",
    ),
)

#: The shape of every 403 the index does describe (``{"status", "result": <reason>}``); an
#: allow-listed 403 is still checked against it.
GENERIC_403 = "validateDisconnectParticipant403"
_HOST_ONLY = (
    "host-only room function refused to a Guest (spec: 'only available to conference Hosts'); "
    "the SDK-20 wrapper lists 200 only because Pexip's app never calls it as a Guest"
)
_NOT_IN_BREAKOUT = "asked from the main room, not from inside a breakout room"

#: ``(function, status)`` the index does not list but the emulator rightly answers: the reason,
#: and the validator the answer is checked against instead.
ALLOWED_STATUSES: dict[tuple[str, int], tuple[str, str]] = {
    **{
        (function, 403): (_HOST_ONLY, GENERIC_403)
        for function in (
            "dial",
            "lock",
            "unlock",
            "startConference",
            "muteguests",
            "unmuteguests",
            "setGuestsCanUnmute",
            "disconnect",
            "transformLayout",
            "clearAllBuzz",
            "silentVideoDetection",
            "videoMixesCreate",
            "videoMixesConfigure",
            "videoMixesDelete",
        )
    },
    ("guestLeaveBreakout", 403): (_NOT_IN_BREAKOUT, GENERIC_403),
    ("guestBreakoutBuzz", 403): (_NOT_IN_BREAKOUT, GENERIC_403),
    ("guestClearBreakoutBuzz", 403): (_NOT_IN_BREAKOUT, GENERIC_403),
}

#: ``(function, status)`` the index gives no validator because the body is not JSON: the
#: content type it must have, and why.
BINARY_RESPONSES: dict[tuple[str, int], tuple[str, str]] = {
    ("avatarJpgParticipant", 200): (
        "image/jpeg",
        "a JPEG; the SDK wrapper returns the blob unvalidated",
    ),
}


@dataclass(frozen=True)
class Failure:
    kind: str  # "request body" | "response" | "status"
    function: str
    method: str
    path: str
    status: int
    errors: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.function} {self.method} {self.path} -> {self.status}: "
            + "; ".join(self.errors)
        )


@dataclass
class Conformance:
    """Counts of what was checked, and every failure (see the module docstring)."""

    book: SchemaBook
    requests_checked: int = 0
    responses_checked: int = 0
    failures: list[Failure] = field(default_factory=list)
    #: schema endpoints (index ``function`` names) reached, and (function, status) answered
    covered: set[str] = field(default_factory=set)
    answered: set[tuple[str, int]] = field(default_factory=set)
    #: request bodies the client left out where the endpoint has a Body validator
    bodiless: Counter[str] = field(default_factory=Counter)
    divergences: Counter[str] = field(default_factory=Counter)
    undocumented: dict[str, Counter[str]] = field(default_factory=dict)  # reason -> statuses
    binary: Counter[str] = field(default_factory=Counter)
    no_schema: Counter[str] = field(default_factory=Counter)  # by emulator route name
    unrouted: Counter[str] = field(default_factory=Counter)  # no schema, no emulator route

    def check_all(self, exchanges: Iterable[Exchange]) -> None:
        for exchange in exchanges:
            self.check(exchange)

    def check(self, x: Exchange) -> None:
        if not x.path.startswith(API_PREFIX):
            return
        endpoint = self.book.match(x.method, x.path, x.request_json)
        if endpoint is None:
            if x.endpoint is None:
                self.unrouted[f"{x.method} {generic_path(x.path)} -> {x.status}"] += 1
            else:
                self.no_schema[x.endpoint] += 1
            return
        function = endpoint.function
        self.covered.add(function)
        self.answered.add((function, x.status))
        if endpoint.body_validator is not None:
            if x.request_json is None:
                self.bodiless[function] += 1
            else:
                self.requests_checked += 1
                self._validate(
                    "request body", function, "body", endpoint.body_validator, x, x.request_json
                )
        self._check_response(function, endpoint.responses, x)

    def _check_response(
        self, function: str, responses: dict[int, tuple[str, str]], x: Exchange
    ) -> None:
        key = (function, x.status)
        if x.status in responses:
            validator, content_type = responses[x.status]
        elif key in ALLOWED_STATUSES:
            reason, validator = ALLOWED_STATUSES[key]
            content_type = "application/json"
            self.undocumented.setdefault(reason, Counter())[f"{function} {x.status}"] += 1
        elif key in BINARY_RESPONSES:
            expected, _ = BINARY_RESPONSES[key]
            self.binary[f"{function} {x.status}"] += 1
            if x.content_type != expected:
                self._fail(
                    "response",
                    x,
                    function,
                    f"content type {x.content_type!r}, expected {expected!r}",
                )
            return
        else:
            listed = ", ".join(map(str, sorted(responses)))
            self._fail("status", x, function, f"the index lists only {listed}")
            return
        self.responses_checked += 1
        if content_type == "text":
            self._validate(
                "response", function, f"response {x.status}", validator, x, response_text(x)
            )
        elif x.content_type != "application/json" or x.response_json is None:
            self._fail("response", x, function, f"not JSON ({x.content_type or 'no body'})")
        else:
            self._validate(
                "response", function, f"response {x.status}", validator, x, x.response_json
            )

    def _validate(
        self, kind: str, function: str, what: str, validator: str, x: Exchange, data: Any
    ) -> None:
        errors = self.book.errors(validator, data)
        if not errors:
            return
        for divergence in DIVERGENCES:
            if (divergence.function, divergence.kind) == (function, what) and divergence.applies(
                data
            ):
                self.divergences[f"{function} {what}: {divergence.reason}"] += 1
                return
        self.failures.append(Failure(kind, function, x.method, x.path, x.status, tuple(errors)))

    def _fail(self, kind: str, x: Exchange, function: str, error: str) -> None:
        self.failures.append(Failure(kind, function, x.method, x.path, x.status, (error,)))

    def summary(self, index: set[str], not_reached: dict[str, str]) -> str:
        """The counts, then every category with what fell in it (printed by the test)."""
        pairs = {(e.function, status) for e in self.book.endpoints for status in e.responses}
        undocumented = sum(sum(c.values()) for c in self.undocumented.values())
        lines = [
            f"conformance: {self.requests_checked} request bodies checked "
            f"({self._failed('request body')} failures), {self.responses_checked} responses "
            f"checked ({self._failed('response')} failures; {self._failed('status')} statuses "
            f"the index does not list, {undocumented} more allow-listed)",
            f"  coverage: {len(self.covered & index)} of {len(index)} schema endpoints reached, "
            f"{len(self.answered & pairs)} of {len(pairs)} (endpoint, status) pairs answered; "
            f"{len(self.no_schema)} spec-only endpoints without schema "
            f"({sum(self.no_schema.values())} exchanges)",
            "  no schema: " + _counts(self.no_schema),
        ]
        lines += [f"  not reached: {name} ({why})" for name, why in sorted(not_reached.items())]
        if self.unrouted:
            lines.append("  no schema and no emulator route: " + _counts(self.unrouted))
        if self.bodiless:
            lines.append(
                "  no body sent where the index has a Body validator: " + _counts(self.bodiless)
            )
        if self.binary:
            lines.append("  binary (no validator by design): " + _counts(self.binary))
        lines += [f"  documented divergence x{n}: {what}" for what, n in self.divergences.items()]
        lines += [
            f"  undocumented status, allow-listed ({reason}): {_counts(counts)}"
            for reason, counts in self.undocumented.items()
        ]
        lines += [f"  FAIL {failure}" for failure in self.failures]
        return "\n".join(lines)

    def _failed(self, kind: str) -> int:
        return sum(1 for f in self.failures if f.kind == kind)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} x{v}" for k, v in sorted(counter.items()))


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def generic_path(path: str) -> str:
    """``path`` below the conference, with UUIDs as ``{uuid}``: one key per kind of request."""
    rest = path.split("/", 6)[-1] if path.startswith(API_PREFIX + "conferences/") else path
    return UUID.sub("{uuid}", rest)


def response_text(x: Exchange) -> str:
    """What the SDK's ``res.text()`` reads. The traffic keeps JSON parsed (and no other body),
    so a JSON answer is serialised back; any other body is still a string."""
    if x.response_json is not None:
        return json.dumps(x.response_json)
    return ""
