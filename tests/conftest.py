"""Suite-wide diagnostics: when a test is about to hit pytest-timeout, print every asyncio task
of the event loop it runs in, with the line each waits on. pytest-timeout's own dump shows
threads only, and an asyncio test that hangs has an idle main thread: the stuck ``await`` is in
a task."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator

import pytest

#: seconds before the per-test timeout at which the tasks are dumped
DUMP_AHEAD = 15.0


def _running_loop_of(thread_id: int) -> asyncio.AbstractEventLoop | None:
    """The event loop running in that thread: the ``self`` of its ``_run_once`` frame."""
    frame = sys._current_frames().get(thread_id)
    while frame is not None:
        loop = frame.f_locals.get("self")
        if frame.f_code.co_name == "_run_once" and isinstance(loop, asyncio.AbstractEventLoop):
            return loop
        frame = frame.f_back
    return None


def _dump_tasks(loop: asyncio.AbstractEventLoop, name: str) -> None:
    out = sys.stderr
    tasks = asyncio.all_tasks(loop)
    print(f"\n==== {name}: {len(tasks)} asyncio tasks pending ====", file=out)
    for task in tasks:
        print(f"-- {task.get_name()} ({task._state}, cancelling={task.cancelling()})", file=out)
        # The whole await chain: a task's own stack stops at its outermost coroutine.
        awaited: object = task.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is not None:
                print(
                    f"   {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}",
                    file=out,
                )
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)


@pytest.fixture(autouse=True)
def _dump_asyncio_tasks_before_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    timeout = request.config.getini("timeout")
    seconds = float(timeout) if timeout else 0.0
    if seconds <= DUMP_AHEAD:
        yield
        return
    main = threading.get_ident()

    def fire() -> None:
        loop = _running_loop_of(main)
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(_dump_tasks, loop, request.node.nodeid)

    timer = threading.Timer(seconds - DUMP_AHEAD, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
