"""A local Pexip Infinity-compatible node for tests and demos (client REST API v2).

See :mod:`.server` for the :class:`Emulator`, :mod:`.config` for the config file format,
:mod:`.policy` for the host/guest rule table, :mod:`.admission` for the PIN / Virtual
Reception / SSO rules, :mod:`.faults` for fault injection, :mod:`.media` for the media seam and
:mod:`.compositor` for the transcoded conference (layouts, audio mix) that is the default,
:mod:`.direct_media` for direct-media conferences (and :mod:`.path_relay` for their path faults),
:mod:`.builtin` for the virtual participants a conference may have.
"""

from pexbot.emulator.conference.faults import Faults
from pexbot.emulator.conference.node import Node
from pexbot.emulator.http.traffic import Exchange, Traffic
from pexbot.emulator.media.backend import (
    CallContext,
    ComposingBackend,
    MediaBackend,
    MediaChoice,
    MediaView,
    NullMediaBackend,
)

from .config import (
    BuiltinParticipant,
    ConferenceConfig,
    EmulatorConfig,
    IdpConfig,
    TurnConfig,
    load_config,
)
from .server import Emulator

__all__ = [
    "BuiltinParticipant",
    "CallContext",
    "ComposingBackend",
    "ConferenceConfig",
    "Emulator",
    "EmulatorConfig",
    "Exchange",
    "Faults",
    "IdpConfig",
    "MediaBackend",
    "MediaChoice",
    "MediaView",
    "Node",
    "NullMediaBackend",
    "Traffic",
    "TurnConfig",
    "load_config",
]
