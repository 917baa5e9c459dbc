"""The embedded default: with no ``--node``, jobs join an emulator started in-process.

Its configuration lives here, in one place, for every job and example:

* ``demo`` (:data:`DEMO_ALIAS`): a PIN-less meeting room. The emulator's built-in demo
  participant, when the emulator provides one, sends a moving pattern and a tone into it, so a
  recording or a load test on a fresh machine has something real to receive.
* ``test_call`` (:data:`TEST_CALL_ALIAS`): a test-call service, which loops each caller's own
  media back to it; the probe joins it to measure the end-to-end latency of its own pattern.

The emulator composes the conference (layouts, audio mix) at ``media_size`` / ``fps``; jobs that
run many bots pass a small size to keep the node's share of the CPU down.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from pexbot.emulator import BuiltinParticipant, ConferenceConfig, Emulator, EmulatorConfig

DEMO_ALIAS = "demo"
TEST_CALL_ALIAS = "test_call"
DEMO_NAME = "pexbot demo"


def demo_config() -> EmulatorConfig:
    """The embedded emulator's conferences (see the module docstring)."""
    return EmulatorConfig(
        conferences=[
            ConferenceConfig(
                aliases=[DEMO_ALIAS],
                name=DEMO_NAME,
                builtin_participants=[
                    BuiltinParticipant(
                        display_name="Demo pattern", video="pattern", audio="tone", tone_hz=1000
                    )
                ],
            ),
            ConferenceConfig(
                aliases=[TEST_CALL_ALIAS], name="pexbot test call", service_type="test_call"
            ),
        ]
    )


@contextlib.asynccontextmanager
async def embedded_emulator(
    *, media_size: tuple[int, int] = (640, 360), fps: float = 15.0, host: str = "127.0.0.1"
) -> AsyncIterator[Emulator]:
    """The demo emulator, listening on a free port of ``host`` for as long as the block runs."""
    async with Emulator(
        demo_config(), host=host, port=0, media_size=media_size, media_fps=fps
    ) as emulator:
        yield emulator
