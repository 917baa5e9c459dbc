"""The public surface of ``pexbot``: pinned, so a change to it is a deliberate change."""

from __future__ import annotations

import inspect

import pexbot
from pexbot import errors

EXPECTED = {
    "PresentationController",
    "SendingStopped",
    "GUEST_PIN",
    "ApiError",
    "BadRequest",
    "BreakoutApi",
    "CallApi",
    "CallError",
    "CallOptions",
    "CallSignalling",
    "CallState",
    "CallStats",
    "ChatMessage",
    "ConferenceApi",
    "ConferenceNotFound",
    "ConferenceState",
    "ConfigError",
    "DtlsTimeout",
    "Event",
    "EventIterator",
    "EventName",
    "ExtensionRequired",
    "FloorDenied",
    "Forbidden",
    "HostOnly",
    "IceTimeout",
    "IdpRequired",
    "InvalidPin",
    "InvalidToken",
    "JoinDenied",
    "JoinRefused",
    "MediaCall",
    "NegotiationError",
    "NodeApi",
    "NodeUnavailable",
    "ParticipantApi",
    "PexbotError",
    "PinRequired",
    "RecoveryOptions",
    "RoomApi",
    "Session",
    "SessionEnded",
    "SessionEndedEvent",
    "SsoRedirectRequired",
    "StreamStats",
    "Subscription",
    "TransportError",
    "UnexpectedResponse",
    "__version__",
}


def test_all_is_pinned() -> None:
    assert set(pexbot.__all__) == EXPECTED
    assert len(pexbot.__all__) == len(EXPECTED)  # no duplicates
    for name in pexbot.__all__:
        assert hasattr(pexbot, name), name


def test_all_is_sorted() -> None:
    # isort-style (ruff RUF022): CONSTANTS, then Classes, then the rest.
    def key(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert pexbot.__all__ == sorted(pexbot.__all__, key=key)


def test_every_error_class_is_exported() -> None:
    classes = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, errors.PexbotError)
    }
    assert classes <= set(pexbot.__all__)
    assert pexbot.SessionEnded is errors.SessionEnded
    assert pexbot.SessionEndedEvent is not pexbot.SessionEnded


def test_media_call_surface() -> None:
    # What Session.call hands back and takes, reachable from the package root.
    assert pexbot.MediaCall is pexbot.call.MediaCall
    assert pexbot.CallOptions is pexbot.call.CallOptions
    params = inspect.signature(pexbot.Session.call).parameters
    assert {"audio", "video", "on_track", "options", "option_overrides"} <= set(params)
    assert all(p.kind is not p.POSITIONAL_OR_KEYWORD for n, p in params.items() if n != "self")


def test_docstring_kept() -> None:
    assert pexbot.__doc__ == "pexbot: a headless WebRTC endpoint for Pexip Infinity."
    assert pexbot.GUEST_PIN == "none"


def test_direct_media_surface() -> None:
    # Statistics, chat and recovery of a call, typed and reachable from the package root.
    assert pexbot.CallStats is pexbot.call_stats.CallStats
    assert inspect.signature(pexbot.MediaCall.stats).return_annotation in (
        "CallStats",
        pexbot.CallStats,
    )
    assert {"payload", "type"} <= set(inspect.signature(pexbot.Session.send_message).parameters)
    assert pexbot.CallOptions().recovery == pexbot.RecoveryOptions()
    assert set(pexbot.StreamStats.model_fields) >= {"rx_bitrate_kbps", "tx_fps", "rx_jitter_ms"}
