"""The Overview's chart, drawn on the server as SVG: conversations delivered per hour over the last
7 days, and the backlog's projected drain after now. No chart library and no script: it reads
without JavaScript and weighs a few kilobytes (168 bars)."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape

__all__ = ["delivered_chart"]

WIDTH, HEIGHT = 760, 180
LEFT, BOTTOM, TOP = 36, 22, 10
FUTURE = 0.18  # of the plot's width, for the projected drain


def delivered_chart(counts: list[int], now: float, waiting: int, eta_seconds: float | None) -> Markup:
    """``counts``: per hour, oldest first, the last being the current hour."""
    plot_w = (WIDTH - LEFT - 8) * (1 - FUTURE)
    plot_h = HEIGHT - BOTTOM - TOP
    top = max(max(counts, default=0), 1)
    bar = plot_w / max(len(counts), 1)
    total = sum(counts)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title">',
             f'<title id="chart-title">{total} conversations delivered in the last 7 days'
             f'{_drain_words(waiting, eta_seconds)}</title>']
    for fraction in (0, 0.5, 1):  # gridlines with their counts
        y = TOP + plot_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{round(top * fraction)}</text>')
    for i, n in enumerate(counts):
        if n:
            h = plot_h * n / top
            parts.append(f'<rect class="bar" x="{LEFT + i * bar:.1f}" y="{TOP + plot_h - h:.1f}" '
                         f'width="{max(bar - 0.6, 0.6):.1f}" height="{h:.1f}"/>')
    hours = len(counts)
    first_hour = (now // 3600 + 1 - hours) * 3600
    for i in range(0, hours, 24):  # a label at each day's first bar
        at = datetime.fromtimestamp(first_hour + i * 3600).astimezone()
        parts.append(f'<text class="axis" x="{LEFT + i * bar:.1f}" y="{HEIGHT - 6}">{at:%a %d}</text>')
    now_x = LEFT + plot_w
    parts.append(f'<line class="now" x1="{now_x:.1f}" x2="{now_x:.1f}" y1="{TOP}" y2="{TOP + plot_h}"/>')
    parts.append(f'<text class="axis" x="{now_x + 3:.1f}" y="{HEIGHT - 6}">now</text>')
    if waiting and eta_seconds:  # the hours until the backlog is through, on the bars' time scale
        future_w = (WIDTH - LEFT - 8) * FUTURE
        drain_w = min(max(eta_seconds / 3600 * bar, 2.0), future_w)
        parts.append(f'<rect class="drain" x="{now_x:.1f}" y="{TOP}" width="{drain_w:.1f}" height="{plot_h}"/>')
        parts.append(f'<text class="axis" x="{now_x + 4:.1f}" y="{TOP + 12}">{waiting} waiting,</text>')
        parts.append(f'<text class="axis" x="{now_x + 4:.1f}" y="{TOP + 26}">through in about</text>')
        parts.append(f'<text class="axis" x="{now_x + 4:.1f}" y="{TOP + 40}">{escape(_duration(eta_seconds))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _duration(seconds: float) -> str:
    from bridge.status import format_duration

    return format_duration(seconds)


def _drain_words(waiting: int, eta_seconds: float | None) -> str:
    if not waiting:
        return "; nothing waiting"
    if eta_seconds is None:
        return f"; {waiting} waiting"
    return escape(f"; {waiting} waiting, delivered in about {_duration(eta_seconds)}")
