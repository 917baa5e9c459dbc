"""What every typed API object shares: the transport, the current token, result parsing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter, ValidationError

from pexbot.errors import UnexpectedResponse
from pexbot.signalling.http import ApiTransport, RawResponse
from pexbot.wire import WireModel

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

Body = WireModel | dict[str, Any] | None


class ApiContext:
    """A transport plus a way to get the token that is current *now* (it is refreshed)."""

    def __init__(
        self,
        transport: ApiTransport,
        token: Callable[[], str],
        *,
        me: Callable[[], str | None] | None = None,
    ) -> None:
        self.transport = transport
        self._token = token
        self._me = me or (lambda: None)

    @property
    def me(self) -> str | None:
        """Our own participant UUID, when known: decides which participant calls are host-only."""
        return self._me()

    def __repr__(self) -> str:
        return f"ApiContext({self.transport!r})"

    async def request(
        self,
        method: str,
        path: str,
        body: Body = None,
        *,
        host_only: bool = False,
        params: dict[str, str] | None = None,
    ) -> RawResponse:
        payload = body.body() if isinstance(body, WireModel) else body
        return await self.transport.request(
            method,
            path,
            json=payload,
            token=self._token(),
            params=params,
            host_only=host_only,
        )

    async def post(self, path: str, body: Body = None, *, host_only: bool = False) -> Any:
        """POST and return the envelope's ``result``."""
        return (await self.request("POST", path, body, host_only=host_only)).result

    async def get(
        self, path: str, *, params: dict[str, str] | None = None, host_only: bool = False
    ) -> Any:
        return (await self.request("GET", path, params=params, host_only=host_only)).result

    async def get_bytes(self, path: str, *, params: dict[str, str] | None = None) -> bytes:
        return (await self.request("GET", path, params=params)).content

    async def post_bool(self, path: str, body: Body = None, *, host_only: bool = False) -> bool:
        """POST a function whose result is "true if successful, false otherwise"."""
        return as_bool(await self.post(path, body, host_only=host_only))


def seg(value: str) -> str:
    """``value`` as one URL path segment."""
    return quote(value, safe="")


def as_bool(result: Any) -> bool:
    """``result`` of a boolean function; ``null`` (some nodes' "done") counts as success."""
    return result is None or bool(result)


def parse(model: type[M], result: Any, endpoint: str) -> M:
    """``result`` as ``model``, or ``UnexpectedResponse`` naming the endpoint."""
    try:
        return model.model_validate(result)
    except ValidationError as exc:
        raise UnexpectedResponse(endpoint, 200, _summary(exc, model.__name__)) from None


def parse_as(kind: Any, result: Any, endpoint: str) -> Any:
    """``result`` validated against any type (``list[Participant]``, ``dict[str, str]``...)."""
    try:
        return TypeAdapter(kind).validate_python(result)
    except ValidationError as exc:
        raise UnexpectedResponse(endpoint, 200, _summary(exc, str(kind))) from None


def _summary(exc: ValidationError, what: str) -> str:
    errors = exc.errors()
    if not errors:
        return f"result is not a {what}"
    where = ".".join(str(p) for p in errors[0]["loc"])
    return f"result is not a {what} ({where}: {errors[0]['msg']})"
