"""Every example runs against an in-process emulator (no ``--node``) and exits 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--duration", "3"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "started an emulator" in done.stdout
    if script.name.startswith("02_"):
        # the two bots saw and heard each other
        reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert len(reports) == 2
        for report in reports:
            assert report["video"]["numbers_read"] > 10
            assert report["audio"]["tone_fraction"] > 0.5
