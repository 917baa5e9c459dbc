"""Prometheus metrics for long-running jobs: a registry and a tiny text-format exporter.

No dependency beyond aiohttp: the exposition format (text 0.0.4) is a few lines, and a job
needs only gauges and counters. A job owns one :class:`MetricsRegistry` (no process-wide
state: many jobs may share a process) and refreshes it from a *collector* called at each
scrape, so values are as fresh as the scrape and nothing ticks in the background.

::

    registry = MetricsRegistry(collect=lambda r: r.set("pexbot_bots_joined", joined))
    registry.describe("pexbot_bots_joined", "bots in the conference", "gauge")
    async with MetricsServer(registry, port=9100) as server:
        print(server.url)        # http://127.0.0.1:9100/metrics
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

from aiohttp import web

log = logging.getLogger(__name__)

MetricType = Literal["gauge", "counter"]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Labels = tuple[tuple[str, str], ...]


@dataclass
class _Family:
    help: str
    type: MetricType
    samples: dict[Labels, float] = field(default_factory=dict)


class MetricsRegistry:
    """Metric families by name; ``collect(registry)`` runs before each :meth:`render`."""

    def __init__(self, collect: Callable[[MetricsRegistry], None] | None = None) -> None:
        self._families: dict[str, _Family] = {}
        self._collect = collect

    def describe(self, name: str, help: str, type: MetricType = "gauge") -> None:
        if not _valid_name(name):
            raise ValueError(f"not a Prometheus metric name: {name!r}")
        family = self._families.get(name)
        if family is None:
            self._families[name] = _Family(help, type)
        else:
            family.help, family.type = help, type

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a sample (a counter's value is its running total, set as such)."""
        family = self._families.get(name)
        if family is None:
            self.describe(name, name.replace("_", " "))
            family = self._families[name]
        family.samples[tuple(sorted(labels.items()))] = float(value)

    def clear(self, name: str) -> None:
        """Forget every sample of ``name`` (labels that no longer exist, e.g. bots gone)."""
        family = self._families.get(name)
        if family is not None:
            family.samples.clear()

    def value(self, name: str, **labels: str) -> float | None:
        family = self._families.get(name)
        return None if family is None else family.samples.get(tuple(sorted(labels.items())))

    def render(self) -> str:
        if self._collect is not None:
            self._collect(self)
        lines: list[str] = []
        for name, family in sorted(self._families.items()):
            lines.append(f"# HELP {name} {_escape_help(family.help)}")
            lines.append(f"# TYPE {name} {family.type}")
            for labels, value in sorted(family.samples.items()):
                lines.append(f"{name}{_labels(labels)} {_number(value)}")
        return "\n".join(lines) + "\n"


def _valid_name(name: str) -> bool:
    return bool(name) and not name[0].isdigit() and all(c.isalnum() or c in "_:" for c in name)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape_label(value)}"' for key, value in labels) + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


class MetricsServer:
    """Serves ``GET /metrics`` from a registry on ``host:port`` (0: a free port)."""

    def __init__(self, registry: MetricsRegistry, *, host: str = "127.0.0.1", port: int = 0):
        self.registry = registry
        self.host = host
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the metrics server is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    async def start(self) -> MetricsServer:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self

    async def aclose(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> MetricsServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        try:
            body = self.registry.render()
        except Exception:
            log.exception("collecting metrics failed")
            raise web.HTTPInternalServerError(text="collecting metrics failed\n") from None
        return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
