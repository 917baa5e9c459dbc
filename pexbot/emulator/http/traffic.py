"""What went over the wire: every HTTP exchange (and every event sent), for assertions and
conformance checks. Bounded (oldest dropped) and clearable. Secrets are redacted: the
``token`` / ``pin`` headers and the ``token`` / ``sso_token`` / ``credential`` JSON values
(and a request's ``pin``) become ``"<redacted>"``: still strings, so schema checks of the
shape keep working.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from pexbot.emulator.conference.events import SentEvent

REDACTED = "<redacted>"
SECRET_HEADERS = {"token", "pin", "authorization", "cookie"}
#: secret JSON values: in requests (a transfer's ``pin``) and in responses (``pin`` there is
#: the PIN challenge's "required"/"none", not a secret)
REQUEST_SECRETS = frozenset({"token", "sso_token", "pin", "credential"})
RESPONSE_SECRETS = frozenset({"token", "sso_token", "credential"})


def redact(data: Any, keys: frozenset[str] = REQUEST_SECRETS) -> Any:
    if isinstance(data, dict):
        return {
            k: (REDACTED if k in keys and isinstance(v, str) else redact(v, keys))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [redact(v, keys) for v in data]
    return data


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str  # as requested, without the query string
    query: dict[str, str]
    endpoint: str | None  # route name, e.g. "participant.mute" (None: no route matched)
    template: (
        str | None
    )  # e.g. "/api/client/v2/conferences/{alias}/participants/{participant_uuid}/mute"
    request_headers: dict[str, str]
    request_json: Any  # None when the body was empty or not JSON
    request_text: str
    status: int
    response_json: Any  # None for non-JSON responses (events, images)
    content_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Traffic(Sequence[Exchange]):
    """``emu.traffic``: a bounded, clearable list of exchanges; ``.events`` the events sent."""

    def __init__(self, limit: int, events: deque[SentEvent]) -> None:
        self._records: deque[Exchange] = deque(maxlen=limit)
        self.events = events

    def record(self, exchange: Exchange) -> None:
        self._records.append(exchange)

    def clear(self) -> None:
        self._records.clear()
        self.events.clear()

    def find(self, endpoint: str | None = None, *, method: str | None = None) -> list[Exchange]:
        return [
            x
            for x in self._records
            if (endpoint is None or x.endpoint == endpoint)
            and (method is None or x.method == method)
        ]

    @overload
    def __getitem__(self, index: int) -> Exchange: ...
    @overload
    def __getitem__(self, index: slice) -> list[Exchange]: ...
    def __getitem__(self, index: int | slice) -> Exchange | list[Exchange]:
        if isinstance(index, slice):
            return list(self._records)[index]
        return self._records[index]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Exchange]:
        return iter(list(self._records))
