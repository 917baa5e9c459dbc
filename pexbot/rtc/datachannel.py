"""The direct-media data channel ``pexChannel``: chat between the two ends of a call.

Pexip's client opens it on every call when ``request_token`` gave ``pex_datachannel_id``:
negotiated (no in-band open), with that id, label ``pexChannel``, as the last m-line
(official-client-flow.md §5.3). In direct media, chat travels on it as
``{"type": "message", "body": {"type", "origin", "uuid", "payload"}}`` instead of REST (§9);
``{"type": "fecc", ...}`` carries camera control and is passed on untouched.

A call may rebuild its peer connection; :class:`PexChannel` outlives them: each new connection
gets a fresh negotiated channel (:meth:`PexChannel.attach`), and messages sent while none is
open wait in a bounded queue (oldest dropped) until one is.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection

log = logging.getLogger(__name__)

LABEL = "pexChannel"
MAX_QUEUED = 100


@dataclass(frozen=True)
class ChatMessage:
    """A chat message as carried on the channel."""

    payload: str
    origin: str = ""
    uuid: str = ""
    type: str = "text/plain"


def encode_chat(message: ChatMessage) -> str:
    body = {
        "type": message.type,
        "origin": message.origin,
        "uuid": message.uuid,
        "payload": message.payload,
    }
    return json.dumps({"type": "message", "body": body})


def decode(data: str | bytes) -> ChatMessage | dict[str, Any] | None:
    """A chat message, another well-formed envelope (a dict: fecc...), or None for junk."""
    try:
        envelope = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("type"), str):
        return None
    body = envelope.get("body")
    if envelope["type"] != "message":
        return envelope
    if not isinstance(body, dict) or not isinstance(body.get("payload"), str):
        return None
    return ChatMessage(
        payload=body["payload"],
        origin=str(body.get("origin") or ""),
        uuid=str(body.get("uuid") or ""),
        type=str(body.get("type") or "text/plain"),
    )


class PexChannel:
    """The call's ``pexChannel`` across peer connections; see the module docstring."""

    def __init__(
        self,
        channel_id: int,
        *,
        on_chat: Callable[[ChatMessage], None] | None = None,
        on_other: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.channel_id = channel_id
        self._on_chat = on_chat
        self._on_other = on_other
        self._channel: RTCDataChannel | None = None
        self._queue: deque[str] = deque(maxlen=MAX_QUEUED)
        self.received = 0
        self.sent = 0

    def __repr__(self) -> str:
        state = self._channel.readyState if self._channel is not None else "none"
        return f"PexChannel(id={self.channel_id}, {state}, queued={len(self._queue)})"

    @property
    def open(self) -> bool:
        return self._channel is not None and self._channel.readyState == "open"

    def attach(self, pc: RTCPeerConnection) -> RTCDataChannel:
        """Create the negotiated channel on ``pc`` (before its offer or answer is made)."""
        channel = pc.createDataChannel(LABEL, negotiated=True, id=self.channel_id)
        self._channel = channel
        channel.on("open", lambda: self._opened(channel))
        channel.on("message", self._message)
        return channel

    def detach(self) -> None:
        self._channel = None

    def send_chat(self, message: ChatMessage) -> bool:
        """Send now if the channel is open (True), else queue it for the next one (False)."""
        return self.send_raw(encode_chat(message))

    def send_raw(self, text: str) -> bool:
        if self._channel is not None and self._channel.readyState == "open":
            self._channel.send(text)
            self.sent += 1
            return True
        if len(self._queue) == self._queue.maxlen:
            log.warning("pexChannel not open: oldest queued message dropped")
        self._queue.append(text)
        return False

    def _opened(self, channel: RTCDataChannel) -> None:
        if channel is not self._channel:
            return
        while self._queue and channel.readyState == "open":
            channel.send(self._queue.popleft())
            self.sent += 1

    def _message(self, data: str | bytes) -> None:
        self.received += 1
        decoded = decode(data)
        if decoded is None:
            log.warning("pexChannel: ignoring a message that is not a JSON envelope")
        elif isinstance(decoded, ChatMessage):
            if self._on_chat is not None:
                self._on_chat(decoded)
        elif self._on_other is not None:
            self._on_other(decoded)
