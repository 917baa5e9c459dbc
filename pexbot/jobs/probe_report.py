"""The probe's HTML report: the figures, pass/fail, and plots over time as inline SVG.

One self-contained file (no scripts, no external assets, no plotting library): each chart is an
``<svg>`` with a polyline per series, axes labelled with their range. Pure: a string from a
:class:`~.probe_result.ProbeReport` and its series.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from .probe_result import SERIES, ProbeReport, Series

WIDTH, HEIGHT = 640, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 12, 28
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 720px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; } td, th { padding: 2px 12px 2px 0; text-align: left; }
th { font-weight: 600; } .ok { color: #2ca02c; } .fail { color: #d62728; }
svg { background: #fafafa; border: 1px solid #ddd; } .legend span { margin-right: 1.2em; }
pre { background: #f4f4f4; padding: 8px; overflow-x: auto; font-size: 12px; }
"""


def render_html(report: ProbeReport, series: Series, *, title: str = "pexbot probe") -> str:
    verdict = (
        '<p class="ok"><b>PASS</b></p>'
        if report.ok
        else '<p class="fail"><b>FAIL</b></p><ul>'
        + "".join(f"<li>{_e(f)}</li>" for f in report.failures)
        + "</ul>"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}: {_e(report.alias)} on {_e(report.node)}</h1>",
        verdict,
        "<h2>Summary</h2>",
        _table(_summary_rows(report)),
    ]
    for chart_title, names in _charts(series):
        unit = SERIES[names[0]][1]
        parts.append(f"<h2>{_e(chart_title)} ({_e(unit)})</h2>")
        parts.append(chart_svg([(SERIES[name][2], series[name]) for name in names], unit=unit))
    if not series:
        parts.append("<p>No measurements over time (the call did not last a sample).</p>")
    parts.append("<h2>Report</h2>")
    parts.append(f"<pre>{_e(json.dumps(report.model_dump(mode='json'), indent=2))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _summary_rows(r: ProbeReport) -> list[tuple[str, str]]:
    def fmt(value: float | None, unit: str = "") -> str:
        return "-" if value is None else f"{value:g}{unit}"

    latency = r.video.latency_ms.get("median") if r.video.latency_ms else None
    audio_latency = r.audio.latency_ms.get("median") if r.audio.latency_ms else None
    jitter = ", ".join(f"{k} {fmt(v, ' ms')}" for k, v in r.network.jitter_ms.items()) or "-"
    return [
        ("Ended", r.reason),
        ("Measured for", fmt(r.duration_s, " s")),
        ("Join", fmt(r.join_ms, " ms")),
        ("Call set-up", fmt(r.call_setup_ms, " ms")),
        ("First picture", fmt(r.first_frame_ms, " ms")),
        (
            "Video",
            f"{r.video.width}x{r.video.height}, {r.video.fps:g} fps, {r.video.frames} frames",
        ),
        ("Freezes", f"{r.video.freezes} ({r.video.freeze_total_ms:g} ms)"),
        ("Own pattern read", f"{r.video.own_codes} of {r.video.codes_read} frame numbers"),
        ("Video latency (median)", fmt(latency, " ms")),
        ("Audio latency (median)", fmt(audio_latency, " ms")),
        ("A/V offset", fmt(r.av_offset_ms, " ms")),
        ("Audio level", fmt(r.audio.level_dbfs, " dBFS")),
        ("Packet loss", f"{r.network.loss_pct:g} % of {r.network.packets_received} packets"),
        ("Jitter", jitter),
        (
            "Round trip (RTCP, median)",
            fmt(r.network.rtt_ms.get("median") if r.network.rtt_ms else None, " ms")
            + f"; one way {fmt(r.network.one_way_ms, ' ms')}",
        ),
        (
            "Repairs asked",
            f"{r.network.nacks_sent} NACKs ({r.network.nacked_packets} packets), "
            f"{r.network.plis_sent} PLIs",
        ),
        ("Bitrate", f"received {r.network.rx_kbps:g} kbit/s, sent {r.network.tx_kbps:g} kbit/s"),
    ]


def _table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _charts(series: Series) -> list[tuple[str, list[str]]]:
    """(chart title, series names) in the order of :data:`SERIES`, for series with points."""
    charts: dict[str, list[str]] = {}
    for name, (chart, _unit, _label) in SERIES.items():
        if series.get(name):
            charts.setdefault(chart, []).append(name)
    return list(charts.items())


def chart_svg(lines: Sequence[tuple[str, list[tuple[float, float]]]], *, unit: str = "") -> str:
    """An SVG line chart of ``(label, [(t, value), ...])`` sharing axes (t in seconds)."""
    points = [p for _, pts in lines for p in pts]
    if not points:
        return "<p>(no data)</p>"
    t_lo, t_hi = min(p[0] for p in points), max(p[0] for p in points)
    v_lo, v_hi = min(p[1] for p in points), max(p[1] for p in points)
    v_lo = min(v_lo, 0.0)  # the axis shows where zero is
    if v_hi == v_lo:
        v_hi = v_lo + 1.0
    if t_hi == t_lo:
        t_hi = t_lo + 1.0
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(t: float) -> float:
        return PAD_LEFT + (t - t_lo) / (t_hi - t_lo) * plot_w

    def y(v: float) -> float:
        return PAD_TOP + (1.0 - (v - v_lo) / (v_hi - v_lo)) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">'
    ]
    for frac in (0.0, 0.5, 1.0):
        value = v_lo + frac * (v_hi - v_lo)
        yy = y(value)
        out.append(
            f'<line x1="{PAD_LEFT}" y1="{yy:.1f}" x2="{WIDTH - PAD_RIGHT}" y2="{yy:.1f}" '
            'stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{PAD_LEFT - 6}" y="{yy + 4:.1f}" font-size="11" text-anchor="end">'
            f"{value:.4g}</text>"
        )
    base = HEIGHT - PAD_BOTTOM + 16
    out.append(f'<text x="{PAD_LEFT}" y="{base}" font-size="11">{t_lo:.4g} s</text>')
    out.append(
        f'<text x="{WIDTH - PAD_RIGHT}" y="{base}" font-size="11" text-anchor="end">'
        f"{t_hi:.4g} s</text>"
    )
    for index, (label, pts) in enumerate(lines):
        colour = COLOURS[index % len(COLOURS)]
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
        out.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}">'
            f"<title>{_e(label)}</title></polyline>"
        )
    out.append("</svg>")
    legend = "".join(
        f'<span style="color:{COLOURS[i % len(COLOURS)]}">&#9632; {_e(label)}</span>'
        for i, (label, _pts) in enumerate(lines)
    )
    return "\n".join(out) + f'\n<div class="legend">{legend}</div>'
