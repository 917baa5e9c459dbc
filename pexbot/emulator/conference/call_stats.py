"""Media statistics the clients POST (``calls/<uuid>/statistics``), kept for tests to read.

``emu.node.statistics[participant_uuid]`` is that participant's samples, oldest first, each a
``(t, body)`` pair: ``t`` is the node's monotonic clock when the POST arrived (so intervals
between posts can be checked), ``body`` the validated :class:`pexbot.wire.StatisticsBody`.
``for_call(call_uuid)`` gives one call's samples. Samples outlive the participant (a test reads
them after the call ends); both the samples per participant and the number of participants
kept are bounded (oldest dropped). Over HTTP: ``GET /emulator/statistics``.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from pexbot import wire


class StatsSample(NamedTuple):
    t: float
    body: wire.StatisticsBody


class StatsStore(Mapping[str, list[StatsSample]]):
    def __init__(self, *, per_participant: int = 1000, participants: int = 1000) -> None:
        self._per_participant = per_participant
        self._participants = participants
        self._samples: OrderedDict[str, deque[tuple[str, StatsSample]]] = OrderedDict()

    def record(
        self, participant_uuid: str, call_uuid: str, body: wire.StatisticsBody, t: float
    ) -> None:
        samples = self._samples.get(participant_uuid)
        if samples is None:
            samples = self._samples[participant_uuid] = deque(maxlen=self._per_participant)
            while len(self._samples) > self._participants:
                self._samples.popitem(last=False)
        samples.append((call_uuid, StatsSample(t, body)))

    def __getitem__(self, participant_uuid: str) -> list[StatsSample]:
        return [sample for _, sample in self._samples[participant_uuid]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._samples)

    def __len__(self) -> int:
        return len(self._samples)

    def for_call(self, call_uuid: str) -> list[StatsSample]:
        return [s for samples in self._samples.values() for c, s in samples if c == call_uuid]

    def clear(self) -> None:
        self._samples.clear()

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        return {
            uuid: [{"t": s.t, "call_uuid": c, "body": s.body.body()} for c, s in samples]
            for uuid, samples in self._samples.items()
        }
