"""The event-id tracker, without sockets: duplicates dropped, gaps counted and healed only by a
sync that began after them, replays told from fresh streams."""

from __future__ import annotations

import pytest

from pexbot.events.ids import (
    EventIdTracker,
    StreamStats,
    Verdict,
    format_stream_id,
    parse_stream_id,
)


def feed(tracker: EventIdTracker, *events: tuple[str, str]) -> list[Verdict]:
    return [tracker.check(name, event_id) for name, event_id in events]


def sync(stream: str, first: int) -> list[tuple[str, str]]:
    return [
        ("participant_sync_begin", f"{stream}:{first}"),
        ("participant_create", f"{stream}:{first + 1}"),
        ("participant_sync_end", f"{stream}:{first + 2}"),
    ]


def test_stream_ids_round_trip_and_opaque_ids_are_not_sequence_ids() -> None:
    assert parse_stream_id(format_stream_id("ab.1", 7)) == ("ab.1", 7)
    for opaque in ("MTAuNDQuOTkuMl8xOA==", "", "7", "a:0", "a:-1", "a:1:2", "a b:3", ":3"):
        assert parse_stream_id(opaque) is None, opaque
    with pytest.raises(ValueError):
        format_stream_id("a:b", 1)
    with pytest.raises(ValueError):
        format_stream_id("a", 0)


def test_in_order_then_duplicates_dropped_and_counted() -> None:
    t = EventIdTracker()
    t.connected()
    assert feed(t, *sync("s", 1), ("stage", "s:4")) == [Verdict.FRESH] + [Verdict.NEXT] * 3
    assert t.position == "s:4"
    t.lost()
    t.connected()
    # a node replaying from too far back: the repeats are dropped, the rest goes on
    verdicts = feed(t, ("stage", "s:3"), ("stage", "s:4"), ("layout", "s:5"))
    assert verdicts == [Verdict.DUPLICATE, Verdict.DUPLICATE, Verdict.NEXT]
    assert [v.deliver for v in verdicts] == [False, False, True]
    s = t.stats
    assert (s.duplicates_dropped, s.replays, s.resyncs, s.drops, s.reconnects) == (2, 1, 1, 1, 1)


def test_a_gap_wants_a_resync_until_a_sync_that_began_after_it_ends() -> None:
    t = EventIdTracker()
    t.connected()
    feed(t, *sync("s", 1))
    assert feed(t, ("participant_create", "s:6")) == [Verdict.GAP]
    assert t.stats.gaps == 1 and t.stats.unhealed_gaps == 1 and t.wants_resync
    t.resync_requested()
    assert not t.wants_resync  # asked once
    t.lost()
    t.connected()
    # the fresh stream's sync heals it
    assert feed(t, *sync("n", 1)) == [Verdict.FRESH, Verdict.NEXT, Verdict.NEXT]
    assert t.stats.gaps_healed == 1 and t.stats.unhealed_gaps == 0
    assert t.stats.replays == 0 and t.stats.resyncs == 2 and t.stats.resyncs_requested == 1


def test_a_sync_end_of_a_sync_begun_before_the_gap_heals_nothing() -> None:
    t = EventIdTracker()
    t.connected()
    feed(t, ("participant_sync_begin", "s:1"), ("participant_create", "s:2"))
    feed(t, ("participant_create", "s:5"), ("participant_sync_end", "s:6"))
    assert t.stats.gaps == 1 and t.stats.unhealed_gaps == 1 and t.wants_resync


def test_a_sync_cut_short_by_a_drop_heals_nothing() -> None:
    t = EventIdTracker()
    t.connected()
    feed(t, *sync("s", 1), ("stage", "s:9"))
    t.lost()
    t.connected()
    feed(t, ("participant_sync_begin", "n:1"))
    t.lost()
    t.connected()
    feed(t, ("participant_sync_end", "n:2"))  # a stray end: not after a begin we kept
    assert t.stats.unhealed_gaps == 1


def test_a_new_stream_without_a_sync_is_a_gap() -> None:
    t = EventIdTracker()
    t.connected()
    feed(t, *sync("s", 1))
    t.lost()
    t.connected()
    assert feed(t, ("stage", "other:1")) == [Verdict.GAP]
    assert t.stats.gaps == 1


def test_opaque_and_missing_ids_pass_unchecked() -> None:
    stats = StreamStats()
    t = EventIdTracker(stats)
    t.connected()
    assert t.check("participant_sync_begin", "MTAuNDQuOTkuMl8xOA==") is Verdict.UNNUMBERED
    assert t.check("participant_sync_end", "MTAuNDQuOTkuMl8xOA==") is Verdict.UNNUMBERED
    # an inherited id (no id line of its own) is not this event's: never a duplicate
    feed(t, ("stage", "s:1"))
    assert t.check("layout", "s:1", has_id=False) is Verdict.UNNUMBERED
    assert stats.duplicates_dropped == 0 and stats.resyncs == 1 and t.position == "s:1"
