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

#: ``(function, status)`` the index does not list but the emulator may answer, and why.
ALLOWED_STATUSES: dict[tuple[str, int], str] = {}

#: ``(function, status)`` with no validator in the index that carry no JSON by design.
BINARY_RESPONSES: dict[tuple[str, int], str] = {
    ("avatarJpgParticipant", 200): "a JPEG; the SDK wrapper returns the blob unvalidated",
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
    book: SchemaBook
    requests_checked: int = 0
    responses_checked: int = 0
    failures: list[Failure] = field(default_factory=list)
    divergences: Counter[str] = field(default_factory=Counter)
    undocumented: Counter[str] = field(default_factory=Counter)
    no_schema: Counter[str] = field(default_factory=Counter)
    binary: Counter[str] = field(default_factory=Counter)
    covered: set[str] = field(default_factory=set)
    statuses: Counter[str] = field(default_factory=Counter)

    def check_all(self, exchanges: Iterable[Exchange]) -> None:
        for exchange in exchanges:
            self.check(exchange)

    def check(self, x: Exchange) -> None:
        if not x.path.startswith(API_PREFIX):
            return
        endpoint = self.book.match(x.method, x.path, x.request_json)
        if endpoint is None:
            self.no_schema[x.endpoint or f"{x.method} {x.path} (no route)"] += 1
            return
        self.covered.add(endpoint.function)
        self.statuses[f"{endpoint.function} {x.status}"] += 1
        if endpoint.body_validator is not None and x.request_json is not None:
            self.requests_checked += 1
            self._validate("request body", endpoint.function, "body", endpoint.body_validator, x,
                           x.request_json)
        self._check_response(endpoint.function, endpoint.responses, x)

    def _check_response(
        self, function: str, responses: dict[int, tuple[str, str]], x: Exchange
    ) -> None:
        known = responses.get(x.status)
        if known is None:
            key = (function, x.status)
            if key in BINARY_RESPONSES:
                self.binary[f"{function} {x.status}"] += 1
            elif key in ALLOWED_STATUSES:
                self.undocumented[f"{function} {x.status}"] += 1
            else:
                listed = ", ".join(map(str, sorted(responses)))
                self.failures.append(
                    Failure("status", function, x.method, x.path, x.status,
                            (f"index lists only {listed}",))
                )
            return
        validator, content_type = known
        self.responses_checked += 1
        if content_type == "text":
            payload: Any = response_text(x)
        else:
            payload = x.response_json
        self._validate("response", function, f"response {x.status}", validator, x, payload)

    def _validate(
        self, kind: str, function: str, what: str, validator: str, x: Exchange, data: Any
    ) -> None:
        errors = self.book.errors(validator, data)
        if not errors:
            return
        for divergence in DIVERGENCES:
            if divergence.function == function and divergence.kind == what:
                if divergence.applies(data):
                    self.divergences[f"{function} {what}: {divergence.reason}"] += 1
                    return
        self.failures.append(Failure(kind, function, x.method, x.path, x.status, tuple(errors)))

    def summary(self, index_size: int) -> str:
        lines = [
            f"conformance: {self.requests_checked} request bodies checked, "
            f"{self.responses_checked} responses checked, "
            f"{len(self.failures)} failures; "
            f"{len(self.covered)} of {index_size} schema endpoints covered; "
            f"{sum(self.no_schema.values())} exchanges on {len(self.no_schema)} spec-only "
            "endpoints without schema",
            "  no schema: " + ", ".join(f"{k} x{v}" for k, v in sorted(self.no_schema.items())),
        ]
        if self.binary:
            lines.append("  binary (no validator by design): " + _counts(self.binary))
        if self.divergences:
            lines.append("  documented divergences: " + _counts(self.divergences))
        if self.undocumented:
            lines.append("  undocumented statuses (allow-listed): " + _counts(self.undocumented))
        lines += [f"  FAIL {failure}" for failure in self.failures]
        return "\n".join(lines)


def _counts(counter: Counter[str]) -> str:
    return "; ".join(f"{k} x{v}" for k, v in sorted(counter.items()))


def response_text(x: Exchange) -> str:
    """What ``res.text()`` would give: the traffic keeps JSON parsed, so serialise it back."""
    if x.response_json is not None:
        return json.dumps(x.response_json)
    return ""
