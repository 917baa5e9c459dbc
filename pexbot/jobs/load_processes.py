"""The load job over N processes of one machine: ``ProcessesJob(target, options, processes=N)``.

Bots are dealt out to N child processes (``multiprocessing``'s *spawn*: each child a fresh
interpreter with its own asyncio loop running a :class:`~.load.LoadJob` of its share, at its
share of the ramp, offset so that the starts interleave). The children start their bots
together once every one of them is ready. The node is the same for all: with no ``--node`` the
caller's embedded emulator, in the parent, so it is shared and not counted among the bots.

Each child sends its counts over a pipe while it runs (for the progress table) and, at the end,
its summary and the raw per-bot figures, from which the parent computes exact percentiles over
all the bots. CPU and memory are summed over the children and the parent (which, with no
``--node``, runs the emulator, as the one-process job counts its in-process emulator too).
Stopping (``stop`` set) is passed to the children, which leave as the one-process job does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

from .event_loop import loop_factory
from .load import LoadJob, LoadOptions
from .stats import ProcessUsage, process_usage, summary
from .target import JoinTarget

log = logging.getLogger(__name__)

_REASONS = ("duration", "stopped", "ended")  # least to most telling


@dataclass(frozen=True)
class Share:
    """What one child runs; everything here crosses a pipe (no SSL context: a CA file)."""

    number: int
    target: JoinTarget
    options: LoadOptions
    ca_file: str | None
    delay: float  # before its first bot, so that the children's starts interleave
    log_level: int
    loop: str = "asyncio"  # the event loop (pexbot.jobs.event_loop)


@dataclass
class Child:
    share: Share
    process: Any
    conn: Connection
    counts: dict[str, int] = field(default_factory=dict)
    ready: bool = False
    result: dict[str, Any] | None = None


def deal(bots: int, processes: int) -> list[int]:
    """How many bots each process runs: as even as can be, none empty."""
    processes = max(1, min(processes, bots))
    return [bots // processes + (1 if i < bots % processes else 0) for i in range(processes)]


class ProcessesJob:
    def __init__(
        self,
        target: JoinTarget,
        options: LoadOptions,
        *,
        processes: int,
        ca_file: str | None = None,
        on_progress: Callable[[ProcessesJob], None] | None = None,
        progress_every: float = 0.5,
        loop: str = "asyncio",
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.target = target
        self.options = options
        self.processes = processes
        self.loop = loop
        self._ca_file = ca_file
        self._on_progress = on_progress
        self._progress_every = progress_every
        self.children: list[Child] = []
        self.started_at = time.monotonic()

    def counts(self) -> dict[str, int]:
        keys = ("started", "joined", "media_flowing", "failed", "left")
        total = {k: sum(c.counts.get(k, 0) for c in self.children) for k in keys}
        return {"target": self.options.bots, **total}

    def shares(self) -> list[Share]:
        sizes = deal(self.options.bots, self.processes)
        level = logging.getLogger("pexbot").getEffectiveLevel()
        target = replace(self.target, verify_tls=self.target.verify_tls is not False)
        out = []
        for number, size in enumerate(sizes):
            options = replace(
                self.options,
                bots=size,
                ramp=self.options.ramp / len(sizes),
                name_prefix=f"{self.options.name_prefix}-p{number + 1}",
            )
            delay = number / self.options.ramp
            out.append(Share(number + 1, target, options, self._ca_file, delay, level, self.loop))
        return out

    async def run(self, stop: asyncio.Event | None = None) -> dict[str, Any]:
        stop = stop or asyncio.Event()
        context = multiprocessing.get_context("spawn")
        before = process_usage()
        for share in self.shares():
            mine, theirs = context.Pipe()
            process = context.Process(
                target=child_main, args=(share, theirs), name=f"pexbot-load-{share.number}"
            )
            process.start()
            theirs.close()
            self.children.append(Child(share, process, mine))
        told_stop = started = False
        try:
            while any(c.result is None and c.process.is_alive() for c in self.children):
                self._receive()
                if not started and all(c.ready for c in self.children):
                    started = True
                    self.started_at = time.monotonic()
                    self._send_all("go")
                if stop.is_set() and not told_stop:
                    told_stop = True
                    self._send_all("stop")
                if self._on_progress is not None:
                    self._on_progress(self)
                if told_stop:
                    await asyncio.sleep(self._progress_every)
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._progress_every):
                        await stop.wait()
            self._receive()
        finally:
            await self._end_children()
        after = process_usage()
        return self.summary(before, after)

    def _send_all(self, message: str) -> None:
        for child in self.children:
            with contextlib.suppress(OSError):
                child.conn.send(message)

    def _receive(self) -> None:
        for child in self.children:
            with contextlib.suppress(EOFError, OSError):
                while child.result is None and child.conn.poll():
                    kind, payload = child.conn.recv()
                    if kind == "ready":
                        child.ready = True
                    elif kind == "progress":
                        child.counts = payload
                    elif kind == "done":
                        child.result = payload
                        child.counts = {k: payload["summary"][k] for k in _COUNT_KEYS}
            if not child.ready and not child.process.is_alive():
                child.ready = True  # dead before it was ready: do not hold up the others

    async def _end_children(self) -> None:
        self._send_all("stop")
        deadline = time.monotonic() + 30.0
        for child in self.children:  # a child leaves as a stopped load job does, bounded
            await asyncio.to_thread(child.process.join, max(deadline - time.monotonic(), 0.1))
        for child in self.children:
            if child.process.is_alive():
                log.warning("load process %d did not end: killed", child.share.number)
                child.process.kill()
            child.process.join(5)
            child.conn.close()

    def summary(self, before: ProcessUsage, after: ProcessUsage) -> dict[str, Any]:
        return merge(
            [(c.share, c.result, c.process.exitcode) for c in self.children],
            self.target,
            self.options,
            parent=(before, after),
            seconds=after.wall - self.started_at,
        )


_COUNT_KEYS = ("started", "joined", "media_flowing", "failed", "left")


def merge(
    parts: list[tuple[Share, dict[str, Any] | None, int | None]],
    target: JoinTarget,
    options: LoadOptions,
    *,
    parent: tuple[ProcessUsage, ProcessUsage],
    seconds: float,
) -> dict[str, Any]:
    """One summary, shaped as :meth:`LoadJob.summary`'s, from the children's results (pure)."""
    counts = dict.fromkeys(_COUNT_KEYS, 0)
    failures: dict[str, dict[str, Any]] = {}
    join: list[float] = []
    media: list[float] = []
    frames: list[float] = []
    reason = "duration"
    cores = parent[1].cpu_share_since(parent[0])
    rss_start, rss_end = parent[0].rss_bytes / 2**20, parent[1].rss_bytes / 2**20
    peak = parent[1].peak_rss_bytes / 2**20
    processes = []
    for share, result, exit_code in parts:
        if result is None:  # the child died before reporting: all its bots failed
            size = share.options.bots
            counts["started"] += size
            counts["failed"] += size
            entry = failures.setdefault("ProcessDied", {"count": 0, "example": None})
            entry["count"] += size
            entry["example"] = f"load process {share.number} ended with code {exit_code}"
            processes.append({"bots": size, "exit_code": exit_code})
            continue
        part = result["summary"]
        for key in _COUNT_KEYS:
            counts[key] += part[key]
        for kind, entry in part["failures"].items():
            mine = failures.setdefault(kind, {"count": 0, "example": entry["example"]})
            mine["count"] += entry["count"]
        join += result["join_ms"]
        media += result["first_media_ms"]
        frames += result["frames"]
        if _REASONS.index(part["reason"]) > _REASONS.index(reason):
            reason = part["reason"]
        cores += part["cpu"]["process_cores"]
        memory = part["memory"]
        rss_start += memory["rss_start_mb"]
        rss_end += memory["rss_end_mb"]
        peak += memory["peak_rss_mb"]
        processes.append(
            {
                "bots": share.options.bots,
                "joined": part["joined"],
                "cores": part["cpu"]["process_cores"],
                "rss_end_mb": memory["rss_end_mb"],
                "exit_code": exit_code,
            }
        )
    joined = max(counts["joined"], 1)
    return {
        "bots": options.bots,
        **counts,
        "sends": options.media,
        "reason": reason,
        "node": target.node,
        "alias": target.alias,
        "embedded": target.embedded,
        "seconds": round(seconds, 3),
        "join_ms": summary(join),
        "first_media_ms": summary(media),
        "failures": failures,
        "cpu": {"process_cores": round(cores, 3), "per_bot_pct": round(100.0 * cores / joined, 2)},
        "memory": {
            "rss_start_mb": round(rss_start, 1),
            "rss_end_mb": round(rss_end, 1),
            "peak_rss_mb": round(peak, 1),
            "per_bot_mb": round(max(rss_end - rss_start, 0.0) / joined, 1),
        },
        "frames_received": summary(frames, digits=0),
        "processes": processes,
        "parent_cores": round(parent[1].cpu_share_since(parent[0]), 3),
    }


# -- in the child ----------------------------------------------------------------------------------


def child_main(share: Share, conn: Connection) -> None:
    """A child's entry point (spawned): its share of the bots, reported over ``conn``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to pass on
    logging.basicConfig(
        level=share.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        with asyncio.Runner(loop_factory=loop_factory(share.loop)) as runner:
            runner.run(_child(share, conn))
    finally:
        conn.close()


async def _child(share: Share, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    stop, go = asyncio.Event(), asyncio.Event()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    target = share.target
    if share.ca_file and target.verify_tls is not False:
        target = replace(target, verify_tls=ssl.create_default_context(cafile=share.ca_file))

    def listen() -> None:
        with contextlib.suppress(EOFError, OSError):
            while conn.poll():
                message = conn.recv()
                (go if message == "go" else stop).set()
                if message == "stop":
                    go.set()

    loop.add_reader(conn.fileno(), listen)
    last = 0.0

    def progress(job: LoadJob) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= 0.5:
            last = now
            with contextlib.suppress(OSError):
                conn.send(("progress", job.counts()))

    conn.send(("ready", None))
    await go.wait()
    job = LoadJob(target, share.options, on_progress=progress)
    if not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(share.delay):
                await stop.wait()
    result = await job.run(stop)
    loop.remove_reader(conn.fileno())
    records = job.records
    conn.send(
        (
            "done",
            {
                "summary": result,
                "join_ms": [r.join_s * 1000 for r in records if r.join_s is not None],
                "first_media_ms": [r.media_s * 1000 for r in records if r.media_s is not None],
                "frames": [float(r.frames) for r in records],
            },
        )
    )
