"""The PIN guard alone (pure, fed ``now``): free attempts, doubling delays, the cap, the window,
and one client's guessing never slowing another."""

from __future__ import annotations

from pexbot.emulator.conference.pin_guard import PinGuard


def test_three_free_then_doubling_to_the_cap() -> None:
    guard = PinGuard()
    delays = []
    now = 0.0
    for _ in range(9):
        delays.append(guard.delay("10.0.0.1", "meet", now))
        now += delays[-1] + 0.1  # each try waits its delay, then fails
        guard.failed("10.0.0.1", "meet", now)
    assert delays == [0, 0, 0, 1, 2, 4, 8, 16, 16]
    # About four guesses a minute once capped: 60 s / (16 s + answer time).
    assert 60 / (delays[-1] + 0.1) < 4


def test_a_right_pin_or_a_quiet_minute_clears_the_record() -> None:
    guard = PinGuard(free=1)
    guard.failed("a", "meet", 0.0)
    guard.failed("a", "meet", 1.0)
    assert guard.delay("a", "meet", 2.0) == 2.0
    guard.succeeded("a", "meet")
    assert guard.delay("a", "meet", 2.0) == 0.0
    guard.failed("a", "meet", 10.0)
    guard.failed("a", "meet", 11.0)
    assert guard.delay("a", "meet", 70.5) == 1.0  # the one at 10 s has left the window
    assert guard.delay("a", "meet", 80.0) == 0.0 and len(guard) == 0  # nothing kept


def test_keyed_by_client_and_conference() -> None:
    guard = PinGuard(free=0)
    guard.failed("a", "Meet", 0.0)
    assert guard.delay("a", "meet", 0.0) == 1.0  # aliases match as the node matches them
    assert guard.delay("b", "meet", 0.0) == 0.0
    assert guard.delay("a", "other", 0.0) == 0.0
