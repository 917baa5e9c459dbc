"""Emulator configuration: which conferences exist and how the node behaves.

Config file format (JSON; ``pexbot emulator --config FILE``; example in
``examples/emulator-config.json``). Every key is optional except each conference's ``aliases``::

    {
      "default_vmr": true,            // unknown aliases are PIN-less VMRs (false: 404)
      "token_lifetime": 120,          // seconds; conferences may override
      "refresh_grace": 10,            // seconds an old token still works after refresh_token
      "dial_answer_delay": 0.5,       // seconds from dial to "conference" (answered)
      "dial_timeout": 30,             // seconds before an unanswered ("noanswer") dial is dropped
      "caption_interval": 0.3,        // seconds between scripted live_captions events
      "caption_script": ["Hello from the emulator."],
      "stun": ["stun:stun.example.com:3478"],   // omitted from request_token when empty
      "turn": [{"urls": ["turn:1.2.3.4:3478"], "username": "u", "credential": "c"}],
      "control_api": true,            // serve /emulator/... (faults, traffic, SSO page)
      "event_queue_size": 1000,       // per event stream; a stream that falls behind is closed
      "traffic_limit": 10000,         // exchanges (and events) kept in emu.traffic
      "sse_keepalive": 15,            // seconds between ": keepalive" comments on idle streams
      "event_replay": 0,              // events kept per stream to replay after Last-Event-ID
                                      // (0: every reconnect re-syncs, as the spec describes)
      "expiry_sweep_interval": 0.5,   // seconds between expired-token sweeps
      "direct_media_answer_timeout": 20,  // seconds a held direct-media /calls or update
                                          // waits for the far end's ack {sdp}
      "version_id": "36", "pseudo_version": "77777.0.0",   // the "version" the node reports
      "conferences": [
        {
          "aliases": ["meet", "meet@example.com"],
          "name": "Meeting room",
          "service_type": "conference",   // "conference" | "lecture" | "test_call"
          "host_pin": "1234",             // null: no PIN (everyone is a Host)
          "guest_pin": null,              // needs host_pin, as in Infinity
          "locked": false,                // guests land in the waiting room
          "direct_media": false,          // two media participants, brokered peer to peer
          "direct_media_relay": false,    // direct media through emulator-owned UDP relay
                                          // ports (path faults; see path_relay.py)
          "stats_interval_ms": 5000,      // client_stats_update_interval (direct media), ms
          "chat_enabled": true,
          "guests_can_present": true,
          "guests_can_unmute": true,      // a Guest muted by a Host may unmute itself
          "live_captions": true,
          "breakout_rooms": true,
          "call_type": "video",           // "video" | "video-only" | "audio"
          "token_lifetime": 120,
          "idps": [{"uuid": "6f2c...", "name": "Example IdP"}],  // SSO: request_token needs it
          "builtin_participants": [      // virtual callers the emulator adds (see builtin.py)
            {
              "display_name": "Demo pattern",
              "video": "pattern",          // "pattern" (moving test pattern) | "none"
              "audio": "tone",             // "tone" | "silence" | "none"
              "tone_hz": 1000,             // the tone (markers at 1.5 x, once a second)
              "first_frame": 9000000       // pattern frame numbers start here (default:
            }                              // 9000000 + 1000000 per position in the list)
          ]
        },
        {
          "aliases": ["reception"],
          "name": "Reception",
          "virtual_reception": true,      // 403 conference_extension: required
          "extension_type": "standard",   // or "mssip"
          "targets": ["meet"]             // aliases it may forward to ([] = any known alias)
        }
      ]
    }

Loading validates everything and raises :class:`pexbot.errors.ConfigError` with the offending
path on any mistake (unknown keys included, so typos do not pass silently).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pexbot.errors import ConfigError

DEFAULT_CAPTIONS = (
    "Hello and welcome to the emulated conference.",
    "Live captions are scripted by the pexbot emulator.",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdpConfig(_Strict):
    """One SSO identity provider offered by a conference."""

    uuid: str
    name: str


class TurnConfig(_Strict):
    urls: list[str]
    username: str
    credential: str


class BuiltinParticipant(_Strict):
    """A virtual participant the emulator itself puts in a conference (:mod:`.builtin`)."""

    display_name: str = Field(default="Demo pattern", min_length=1)
    video: Literal["pattern", "none"] = "pattern"
    audio: Literal["tone", "silence", "none"] = "tone"
    tone_hz: float = Field(default=1000.0, ge=50, le=12000)
    #: the pattern's first frame number (None: 9_000_000 + 1_000_000 per list position);
    #: pattern codes carry 24 bits
    first_frame: int | None = Field(default=None, ge=0, lt=1 << 24)


class ConferenceConfig(_Strict):
    aliases: list[str] = Field(min_length=1)
    name: str = ""
    service_type: Literal["conference", "lecture", "test_call"] = "conference"
    host_pin: str | None = None
    guest_pin: str | None = None
    locked: bool = False
    direct_media: bool = False
    direct_media_relay: bool = False
    stats_interval_ms: int = Field(default=5000, gt=0)
    chat_enabled: bool = True
    guests_can_present: bool = True
    guests_can_unmute: bool = True
    live_captions: bool = True
    breakout_rooms: bool = True
    call_type: Literal["video", "video-only", "audio"] = "video"
    token_lifetime: float | None = Field(default=None, gt=0)
    virtual_reception: bool = False
    extension_type: Literal["standard", "mssip"] = "standard"
    targets: list[str] = []
    idps: list[IdpConfig] = []
    builtin_participants: list[BuiltinParticipant] = Field(default=[], max_length=4)

    @model_validator(mode="after")
    def _check(self) -> ConferenceConfig:
        if any(not alias.strip() for alias in self.aliases):
            raise ValueError("aliases must not be empty strings")
        if self.guest_pin is not None and self.host_pin is None:
            raise ValueError("guest_pin needs a host_pin (as in Pexip Infinity)")
        if self.guest_pin is not None and self.guest_pin == self.host_pin:
            raise ValueError("guest_pin must differ from host_pin")
        for pin in (self.host_pin, self.guest_pin):
            if pin is not None and (not pin or pin.lower() == "none"):
                raise ValueError("a PIN must be a non-empty string other than 'none'")
        if self.direct_media_relay and not self.direct_media:
            raise ValueError("direct_media_relay needs direct_media: true")
        if self.targets and not self.virtual_reception:
            raise ValueError("targets only make sense with virtual_reception: true")
        if self.builtin_participants and (
            self.direct_media or self.virtual_reception or self.service_type == "test_call"
        ):
            raise ValueError(
                "builtin_participants need a transcoded conference (not direct_media, "
                "virtual_reception or a test_call)"
            )
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.aliases[0]


class EmulatorConfig(_Strict):
    conferences: list[ConferenceConfig] = []
    default_vmr: bool = True
    token_lifetime: float = Field(default=120.0, gt=0)
    refresh_grace: float = Field(default=10.0, ge=0)
    dial_answer_delay: float = Field(default=0.5, ge=0)
    dial_timeout: float = Field(default=30.0, gt=0)
    caption_interval: float = Field(default=0.3, gt=0)
    caption_script: list[str] = list(DEFAULT_CAPTIONS)
    stun: list[str] = []
    turn: list[TurnConfig] = []
    control_api: bool = True
    event_queue_size: int = Field(default=1000, ge=10)
    traffic_limit: int = Field(default=10_000, ge=1)
    sse_keepalive: float = Field(default=15.0, gt=0)
    event_replay: int = Field(default=0, ge=0)
    expiry_sweep_interval: float = Field(default=0.5, gt=0)
    direct_media_answer_timeout: float = Field(default=20.0, gt=0)
    #: wrong PINs answered at once, per client and conference, before attempts are slowed
    wrong_pin_free: int = Field(default=3, ge=0)
    wrong_pin_window: float = Field(default=60.0, gt=0)
    wrong_pin_max_delay: float = Field(default=16.0, ge=0)
    version_id: str = "36"
    pseudo_version: str = "77777.0.0"

    @model_validator(mode="after")
    def _check(self) -> EmulatorConfig:
        seen: dict[str, str] = {}
        for conf in self.conferences:
            for alias in conf.aliases:
                key = normalise_alias(alias)
                if key in seen:
                    raise ValueError(f"alias {alias!r} is used by two conferences")
                seen[key] = conf.aliases[0]
        for conf in self.conferences:
            for target in conf.targets:
                if normalise_alias(target) not in seen:
                    raise ValueError(
                        f"virtual reception {conf.aliases[0]!r} targets unknown alias {target!r}"
                    )
        return self

    def lifetime_of(self, conference: ConferenceConfig) -> float:
        return conference.token_lifetime or self.token_lifetime


def normalise_alias(alias: str) -> str:
    """Aliases match case-insensitively and without surrounding blanks."""
    return alias.strip().lower()


def config_from_dict(data: Any, *, source: str = "config") -> EmulatorConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a JSON object")
    try:
        return EmulatorConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None


def load_config(path: str | Path) -> EmulatorConfig:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read emulator config {file}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return config_from_dict(data, source=str(file))
