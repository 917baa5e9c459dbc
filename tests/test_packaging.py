"""The Docker image installs pexbot exactly as the README's first command does (no Docker engine
runs in CI, so this pin is what keeps the image covered by the suite's install)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text, flags=re.S)


def test_image_install_is_the_readme_install() -> None:
    first = _readme_commands()[0]
    install = first.split(" && .venv/bin/pexbot")[0]
    runs = [
        line.removeprefix("RUN ").strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("RUN ") and "pip install" in line
    ]
    assert runs == [install]


def test_ci_runs_the_readme_test_command() -> None:
    ci = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ci[-1] == _readme_commands()[1]


def test_image_runs_as_non_root_with_pexbot_entry_point() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", dockerfile, flags=re.M)
    assert 'ENTRYPOINT ["pexbot"]' in dockerfile
    assert dockerfile.startswith("#") and "python:3.11-slim" in dockerfile
