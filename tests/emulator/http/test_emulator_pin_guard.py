"""Wrong PINs over real HTTP: after the free attempts, the node answers the next one late (a
right PIN too), and a right PIN ends the slowing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from emu_helpers import Client

from pexbot.emulator import Emulator


async def timed_join(client: Client, pin: str) -> tuple[int, float]:
    started = time.monotonic()
    status, _ = await client.raw_post("request_token", {"display_name": "guesser"}, {"pin": pin})
    return status, time.monotonic() - started


async def test_wrong_pins_are_slowed_then_a_right_one_clears(
    emu_factory: Callable[..., Any], client: Callable[..., Client]
) -> None:
    emu: Emulator = await emu_factory(wrong_pin_free=2, wrong_pin_max_delay=0.6)
    guesser = client("meet", on=emu)
    answers = [await timed_join(guesser, pin) for pin in ("0000", "0001", "0002", "0003")]
    assert [status for status, _ in answers] == [403, 403, 403, 403]
    assert all(seconds < 0.3 for _, seconds in answers[:2])  # the two free ones
    assert all(seconds >= 0.55 for _, seconds in answers[2:])  # 1 s, 2 s, capped at 0.6
    status, seconds = await timed_join(guesser, "1234")  # the right host PIN: still slowed
    assert status == 200 and seconds >= 0.55
    status, seconds = await timed_join(guesser, "9999")
    assert status == 403 and seconds < 0.3  # the right PIN cleared the record
