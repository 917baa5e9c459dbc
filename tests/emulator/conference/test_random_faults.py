"""``emu.faults.random``: a fraction of every request fails, reproducibly from a seed, bounded."""

from __future__ import annotations

import pytest

from pexbot.emulator import Emulator

PATH = "/api/client/v2/conferences/meet/participants"


def _draws(seed: int, n: int = 2000, **options: object) -> list[tuple[int | None, float] | None]:
    faults = Emulator().faults
    faults.random(seed=seed, **options)  # type: ignore[arg-type]
    out = []
    for _ in range(n):
        rule = faults.take(PATH)
        out.append(None if rule is None else (rule.status, rule.delay))
    return out


def test_rate_kinds_and_seed() -> None:
    draws = _draws(7, rate=0.1, hold=1.5)
    hits = [d for d in draws if d is not None]
    assert 150 <= len(hits) <= 250  # 10 % of 2000, give or take
    five = [d for d in hits if d[0] is not None]
    held = [d for d in hits if d[0] is None]
    assert five and held
    assert {status for status, _ in five} <= {500, 502, 503, 504}
    assert all(delay == 1.5 for _, delay in held)  # a timeout holds, bounded, then is served
    assert _draws(7, rate=0.1, hold=1.5) == draws  # reproducible
    assert _draws(8, rate=0.1, hold=1.5) != draws


def test_one_kind_counts_and_off() -> None:
    faults = Emulator().faults
    faults.random(rate=0.5, kinds=("5xx",), seed=1)
    rules = [faults.take(PATH) for _ in range(200)]
    counts = faults.random_counts
    assert counts["requests"] == 200 and counts["5xx"] == sum(r is not None for r in rules)
    assert "timeout" not in counts
    faults.fail_next(status=418)  # explicit rules come first
    rule = faults.take(PATH)
    assert rule is not None and rule.status == 418
    faults.clear()
    assert faults.random_counts == {} and faults.take(PATH) is None


def test_nonsense_is_refused() -> None:
    faults = Emulator().faults
    for options in ({"rate": 1.5}, {"kinds": ("slow",)}, {"kinds": ()}, {"hold": 600}):
        with pytest.raises(ValueError):
            faults.random(**options)  # type: ignore[arg-type]
