"""Hypothesis settings shared by the fuzz tests: a few hundred derandomised cases per target in
CI (reproducible: a failure in CI fails the same way on a laptop), and random ones by the 10⁵
with ``PEXBOT_FUZZ_EXAMPLES=100000`` (the ``soak`` tests set it for themselves)."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("PEXBOT_FUZZ_EXAMPLES", "400"))
SOAK_EXAMPLES = 100_000


def fuzz_settings(examples: int | None = None) -> settings:
    count = examples if examples is not None else EXAMPLES
    return settings(
        max_examples=count,
        deadline=None,  # a loaded 2-core CI machine has no stable per-case time
        derandomize=count <= 5_000,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


def json_values(max_leaves: int = 30) -> st.SearchStrategy[Any]:
    """Any JSON value: what a node (or an attacker posing as one) could send."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=20), inner),
        max_leaves=max_leaves,
    )
