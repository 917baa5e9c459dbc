"""The command-line jobs as library code: record, present, probe, load (and what they share).

Each job takes a :class:`~.target.JoinTarget` (where and how to join) and options, runs with
``await job.run(stop)`` until its duration, ``stop`` or the node ends it, and returns its
result; nothing here parses arguments or prints. The CLI (:mod:`pexbot.cli`) wraps them.

- :mod:`.record`: main audio+video, presentation and ``events.jsonl`` (:mod:`.event_log`)
- :mod:`.present`: take the floor and play files as the presentation
- :mod:`.probe`: pattern and tone out, quality measured (:mod:`.probe_result`, HTML in
  :mod:`.probe_report`)
- :mod:`.load`: N bots from a bot factory, join times, failures, CPU and memory
- :mod:`.demo`: the embedded emulator's demo configuration (the default with no node)
- :mod:`.metrics`: Prometheus exporter; :mod:`.status_line`: live status on stderr
"""

from .demo import DEMO_ALIAS, TEST_CALL_ALIAS, demo_config, embedded_emulator
from .load import Bot, BotFactory, BotRecord, LoadJob, LoadOptions, MediaBot
from .metrics import MetricsRegistry, MetricsServer
from .present import PlayedItem, PresentJob, PresentOptions, PresentResult, open_playlist
from .probe import ProbeJob, ProbeOptions
from .probe_result import ProbeReport, Thresholds
from .record import RecordJob, RecordOptions, RecordResult
from .target import JoinTarget, until_end

__all__ = [
    "DEMO_ALIAS",
    "TEST_CALL_ALIAS",
    "Bot",
    "BotFactory",
    "BotRecord",
    "JoinTarget",
    "LoadJob",
    "LoadOptions",
    "MediaBot",
    "MetricsRegistry",
    "MetricsServer",
    "PlayedItem",
    "PresentJob",
    "PresentOptions",
    "PresentResult",
    "ProbeJob",
    "ProbeOptions",
    "ProbeReport",
    "RecordJob",
    "RecordOptions",
    "RecordResult",
    "Thresholds",
    "demo_config",
    "embedded_emulator",
    "open_playlist",
    "until_end",
]
