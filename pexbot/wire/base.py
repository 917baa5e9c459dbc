"""Base of every wire payload.

Pexip's own validators strip unknown keys instead of rejecting them, and newer nodes add fields
freely; so every model ignores extras on the way in. On the way out ``body()`` drops unset
optional fields, the way ``JSON.stringify`` drops ``undefined`` in the official client.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")

YesNo = Literal["YES", "NO"]
CallType = Literal["video", "video-only", "audio"]


class WireModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def body(self) -> dict[str, Any]:
        """The JSON object to send: unset optional fields are left out."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class Envelope(WireModel, Generic[T]):
    """``{"status": ..., "result": ...}``: the shape of every JSON response."""

    status: str
    result: T


def envelope(result: object, status: str = "success") -> dict[str, Any]:
    """Build a response envelope around an already-serialisable result."""
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json", exclude_none=True, by_alias=True)
    elif isinstance(result, list):
        result = [
            r.model_dump(mode="json", exclude_none=True, by_alias=True)
            if isinstance(r, BaseModel)
            else r
            for r in result
        ]
    return {"status": status, "result": result}
