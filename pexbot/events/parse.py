"""SSE event → typed event (see :mod:`pexbot.events` for the rules; import from there)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from pydantic import ValidationError

from pexbot import wire
from pexbot.wire import events as wev

from .sse import SseEvent
from .types import (
    BreakoutBegin,
    BreakoutEnd,
    BreakoutEvent,
    BreakoutRefer,
    CallDisconnected,
    CancelRefer,
    ConferenceUpdated,
    Disconnected,
    Event,
    EventName,
    Fecc,
    LayoutChanged,
    LiveCaptions,
    Message,
    MessageReceived,
    NewCandidate,
    NewOffer,
    OnHold,
    ParticipantCreated,
    ParticipantDeleted,
    ParticipantUpdated,
    PeerDisconnected,
    PresentationEnded,
    PresentationFrame,
    PresentationStarted,
    PresentationStopped,
    Refer,
    RefreshTokenRequested,
    SplashScreen,
    StageChanged,
    SyncBegin,
    SyncEnd,
    UnknownEvent,
    UpdateSdp,
)

__all__ = ["parse_event", "parse_payload"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=wire.WireModel)

# breakout_event nests events; a node never nests them, a hostile stream might.
MAX_NESTING = 4
_MAX_REPORTED_ERRORS = 4


class _Invalid(Exception):
    """The data does not fit the event; the message names fields, never values."""


def parse_event(sse: SseEvent) -> Event:
    """Type one SSE event. Never raises: anything it cannot type becomes an UnknownEvent."""
    try:
        payload = json.loads(sse.data) if sse.data.strip() else None
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting past Python's stack
        if sse.event not in _PARSERS:
            # Unknown name: its data need not be JSON; pass the text on as it came.
            return UnknownEvent(event_name=sse.event, data=sse.data, id=sse.id)
        error = f"data is not JSON ({exc})"
        log.warning("%s event delivered untyped: %s", sse.event, error)
        return UnknownEvent(event_name=sse.event, data=sse.data, error=error, id=sse.id)
    return parse_payload(sse.event, payload, event_id=sse.id)


def parse_payload(name: str, payload: Any, *, event_id: str = "", _depth: int = 0) -> Event:
    """Type an event given its name and already-decoded JSON data. Never raises."""
    parser = _PARSERS.get(name)
    if parser is None:
        log.debug("unknown event %r delivered untyped", name)
        return UnknownEvent(event_name=name, data=payload, id=event_id)
    try:
        return parser(payload, event_id, _depth)
    except _Invalid as exc:
        error = str(exc)
    except Exception as exc:  # never let one odd event take the stream down
        log.exception("parsing the %s event failed", name)
        error = f"parser failed: {type(exc).__name__}"
    log.warning("%s event delivered untyped: %s", name, error)
    return UnknownEvent(event_name=name, data=payload, error=error, id=event_id)


# -- validation --------------------------------------------------------------------------------


def _summary(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<object>'}: {err['msg']}"
        for err in errors[:_MAX_REPORTED_ERRORS]
    ]
    more = len(errors) - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _model(model: type[M], payload: Any, what: str) -> M:
    """Validate leniently: optional fields that do not fit fall back to their defaults."""
    if not isinstance(payload, dict):
        raise _Invalid(f"{what} must be a JSON object, not {_json_type(payload)}")
    # The spec's own breakout_end example has the key " breakout_uuid".
    data = {
        (key.strip() if isinstance(key, str) and key.strip() not in payload else key): value
        for key, value in payload.items()
    }
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first_error = exc
    bad = {
        err["loc"][0]
        for err in first_error.errors(include_url=False, include_input=False)
        if err["loc"]
    }
    required = set()
    for field_name, info in model.model_fields.items():
        if info.is_required():
            required.update({field_name, info.alias or field_name})
    if not bad or bad & required:
        raise _Invalid(f"{what}: {_summary(first_error)}")
    try:
        result = model.model_validate({k: v for k, v in data.items() if k not in bad})
    except ValidationError as exc:
        raise _Invalid(f"{what}: {_summary(exc)}") from None
    log.warning(
        "%s: fields %s did not validate and were left at their defaults (%s)",
        what,
        sorted(str(b) for b in bad),
        _summary(first_error),
    )
    return result


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "an array" if isinstance(value, list) else type(value).__name__
    )


# -- one parser per event name -----------------------------------------------------------------

_Parser = Callable[[Any, str, int], Event]


def _presentation_start(p: Any, _id: str, _d: int) -> Event:
    data = _model(wev.PresentationStartData, {} if p is None else p, "presentation_start")
    return PresentationStarted(
        presenter_name=data.presenter_name,
        presenter_uri=data.presenter_uri,
        presenter_uuid=data.presenter_uuid,
        source=data.source,
    )


def _participant(p: Any, what: str) -> wire.Participant:
    return _model(wire.Participant, p, what)


def _participant_delete(p: Any, _id: str, _d: int) -> Event:
    return ParticipantDeleted(uuid=_model(wev.ParticipantDeleteData, p, "participant_delete").uuid)


def _live_captions(p: Any, _id: str, _d: int) -> Event:
    data = _model(wev.LiveCaptionsData, p, "live_captions")
    return LiveCaptions(text=data.data, is_final=data.is_final)


def _message(cls: type[MessageReceived]) -> _Parser:
    def parse(p: Any, _id: str, _d: int) -> Event:
        data = _model(wev.MessageReceivedData, p, str(cls.name))
        return cls(
            payload=data.payload,
            origin=data.origin,
            uuid=data.uuid,
            type=data.type,
            direct=data.direct,
        )

    return parse


def _stage(p: Any, _id: str, _d: int) -> Event:
    if p is None:
        return StageChanged(entries=())
    if not isinstance(p, list):
        raise _Invalid(f"stage must be a JSON array, not {_json_type(p)}")
    entries = tuple(_model(wev.StageEntry, item, f"stage[{i}]") for i, item in enumerate(p))
    return StageChanged(entries=tuple(sorted(entries, key=lambda e: e.stage_index)))


def _call_disconnected(p: Any, _id: str, _d: int) -> Event:
    data = _model(wev.CallDisconnectedData, p, "call_disconnected")
    return CallDisconnected(call_uuid=data.call_uuid, reason=data.reason)


def _disconnect(p: Any, _id: str, _d: int) -> Event:
    if p is None:
        return Disconnected(reason=None)
    return Disconnected(reason=_model(wev.DisconnectData, p, "disconnect").reason)


def _splash_screen(p: Any, _id: str, _d: int) -> Event:
    if p is None or p == {}:
        return SplashScreen(data=None)
    return SplashScreen(data=_model(wev.SplashScreenData, p, "splash_screen"))


def _new_candidate(p: Any, _id: str, _d: int) -> Event:
    data = _model(wev.CandidateData, p, "new_candidate")
    return NewCandidate(candidate=data.candidate, mid=data.mid, ufrag=data.ufrag, pwd=data.pwd)


def _refer(p: Any, _id: str, _d: int) -> Event:
    data = _model(wev.ReferData, p, "refer")
    return Refer(
        alias=data.alias, token=data.token, breakout_name=data.breakout_name, target=data.target
    )


def _breakout_begin(p: Any, _id: str, _d: int) -> Event:
    data = _model(wev.BreakoutBeginData, p, "breakout_begin")
    return BreakoutBegin(breakout_uuid=data.breakout_uuid, participant_uuid=data.participant_uuid)


def _breakout_event(p: Any, event_id: str, depth: int) -> Event:
    data = _model(wev.BreakoutEventData, p, "breakout_event")
    if depth >= MAX_NESTING:
        inner: Event = UnknownEvent(
            event_name=data.event,
            data=data.data,
            error=f"breakout_event nested deeper than {MAX_NESTING}",
            id=event_id,
        )
    else:
        inner = parse_payload(data.event, data.data, event_id=event_id, _depth=depth + 1)
    return BreakoutEvent(breakout_uuid=data.breakout_uuid, event=inner)


def _breakout_end(p: Any, _id: str, _d: int) -> Event:
    data = _model(wev.BreakoutEndData, p, "breakout_end")
    return BreakoutEnd(breakout_uuid=data.breakout_uuid, participant_uuid=data.participant_uuid)


def _breakout_refer(p: Any, _id: str, _d: int) -> Event:
    data = _model(wev.BreakoutReferData, p, "breakout_refer")
    return BreakoutRefer(breakout_uuid=data.breakout_uuid, breakout_name=data.breakout_name)


_PARSERS: Mapping[str, _Parser] = MappingProxyType(
    {
        EventName.PRESENTATION_START: _presentation_start,
        EventName.PRESENTATION_STOP: lambda p, i, d: PresentationStopped(),
        EventName.PRESENTATION_FRAME: lambda p, i, d: PresentationFrame(event_id=i),
        EventName.PRESENTATION_ENDED: lambda p, i, d: PresentationEnded(data=p),
        EventName.PARTICIPANT_CREATE: lambda p, i, d: ParticipantCreated(
            participant=_participant(p, "participant_create")
        ),
        EventName.PARTICIPANT_UPDATE: lambda p, i, d: ParticipantUpdated(
            participant=_participant(p, "participant_update")
        ),
        EventName.PARTICIPANT_DELETE: _participant_delete,
        EventName.PARTICIPANT_SYNC_BEGIN: lambda p, i, d: SyncBegin(),
        EventName.PARTICIPANT_SYNC_END: lambda p, i, d: SyncEnd(),
        EventName.CONFERENCE_UPDATE: lambda p, i, d: ConferenceUpdated(
            status=_model(wire.ConferenceStatus, p, "conference_update")
        ),
        EventName.LAYOUT: lambda p, i, d: LayoutChanged(data=_model(wev.LayoutData, p, "layout")),
        EventName.LIVE_CAPTIONS: _live_captions,
        EventName.MESSAGE_RECEIVED: _message(MessageReceived),
        EventName.MESSAGE: _message(Message),
        EventName.STAGE: _stage,
        EventName.CALL_DISCONNECTED: _call_disconnected,
        EventName.DISCONNECT: _disconnect,
        EventName.SPLASH_SCREEN: _splash_screen,
        EventName.NEW_OFFER: lambda p, i, d: NewOffer(sdp=_model(wev.SdpData, p, "new_offer").sdp),
        EventName.UPDATE_SDP: lambda p, i, d: UpdateSdp(
            sdp=_model(wev.SdpData, p, "update_sdp").sdp
        ),
        EventName.NEW_CANDIDATE: _new_candidate,
        EventName.PEER_DISCONNECT: lambda p, i, d: PeerDisconnected(),
        EventName.REFER: _refer,
        EventName.CANCEL_REFER: lambda p, i, d: CancelRefer(data=p),
        EventName.REFRESH_TOKEN: lambda p, i, d: RefreshTokenRequested(),
        EventName.ON_HOLD: lambda p, i, d: OnHold(data=p),
        EventName.FECC: lambda p, i, d: Fecc(data=p),
        EventName.BREAKOUT_BEGIN: _breakout_begin,
        EventName.BREAKOUT_EVENT: _breakout_event,
        EventName.BREAKOUT_END: _breakout_end,
        EventName.BREAKOUT_REFER: _breakout_refer,
    }
)
