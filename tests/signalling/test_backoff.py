from __future__ import annotations

import random

import pytest

from pexbot.signalling.backoff import Backoff


def test_doubles_from_initial_and_caps_without_jitter() -> None:
    b = Backoff(initial=0.1, maximum=1.0, factor=2.0, jitter=0.0)
    delays = [b.next_delay() for _ in range(7)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])
    assert b.failures == 7


def test_reset_starts_again_from_initial() -> None:
    b = Backoff(initial=0.5, maximum=10, jitter=0.0)
    for _ in range(5):
        b.next_delay()
    b.reset()
    assert b.failures == 0
    assert b.next_delay() == pytest.approx(0.5)


def test_official_client_schedule_within_jitter_band() -> None:
    b = Backoff(rng=random.Random(7))
    for n in range(20):
        base = min(30.0, 0.1 * 2**n)
        d = b.next_delay()
        assert base * 0.8 <= d <= min(30.0, base * 1.2), (n, d)


def test_jitter_actually_varies_and_is_seedable() -> None:
    def schedule(seed: int) -> list[float]:
        b = Backoff(initial=1.0, maximum=10.0, factor=1.0, jitter=0.5, rng=random.Random(seed))
        return [b.next_delay() for _ in range(50)]

    a, again, other = schedule(1), schedule(1), schedule(2)
    assert a == again
    assert a != other
    assert len(set(a)) > 40
    assert all(0.5 <= d <= 1.5 for d in a)
    assert min(a) < 0.8 and max(a) > 1.2  # spread over the band, not a constant


def test_upward_jitter_is_capped_at_maximum() -> None:
    b = Backoff(initial=1.0, maximum=1.0, jitter=0.5, rng=random.Random(3))
    delays = [b.next_delay() for _ in range(50)]
    assert max(delays) == 1.0
    assert min(delays) < 0.8


def test_never_zero_and_never_above_maximum_for_many_random_configs() -> None:
    rng = random.Random(99)
    for _ in range(500):
        initial = rng.uniform(1e-4, 2.0)
        maximum = initial * rng.uniform(1.0, 1000.0)
        b = Backoff(
            initial=initial,
            maximum=maximum,
            factor=rng.uniform(1.0, 4.0),
            jitter=rng.uniform(0.0, 0.99),
            rng=random.Random(rng.random()),
        )
        for _ in range(60):
            d = b.next_delay()
            assert 0 < d <= maximum


def test_huge_failure_counts_do_not_overflow() -> None:
    b = Backoff(initial=0.1, maximum=30.0, factor=10.0, jitter=0.0)
    for _ in range(5000):
        d = b.next_delay()
    assert d == 30.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0.0},
        {"initial": -1.0},
        {"initial": 5.0, "maximum": 1.0},
        {"factor": 0.5},
        {"jitter": 1.0},
        {"jitter": -0.1},
    ],
)
def test_rejects_configurations_that_could_spin(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)  # type: ignore[arg-type]
