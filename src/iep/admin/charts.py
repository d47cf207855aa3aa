"""Line charts as numbers for an inline SVG the template draws: no script, no chart library, no tenant text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: str  # "x,y x,y …" for <polyline points>
    summary: str  # the legend's figure: a total for counts, the peak for durations


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    unit: str
    series: list[Series]
    top: float  # the y axis' largest value
    ticks: list[tuple[float, str]]  # (x, label) along the time axis
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom_y: int = HEIGHT - BOTTOM
    right_x: int = WIDTH - RIGHT
    top_y: int = TOP


def _nice(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above value (at least 1): a readable top for the axis."""
    if value <= 1:
        return 1.0
    scale = 1.0
    while scale * 10 < value:
        scale *= 10
    for step in (1, 2, 5, 10):
        if step * scale >= value:
            return step * scale
    return 10 * scale


def line_chart(
    title: str, unit: str, hours: list[datetime], values: dict[str, list[float]], *, peak: bool = False
) -> Chart:
    top = _nice(max((v for series in values.values() for v in series), default=0))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(hours) - 1, 1)

    def xy(i: int, v: float) -> str:
        return f"{LEFT + i * step:.1f},{TOP + plot_h - (v / top) * plot_h:.1f}"

    series = [
        Series(
            name,
            " ".join(xy(i, v) for i, v in enumerate(vals)),
            f"peak {max(vals, default=0):.1f}" if peak else f"{sum(vals):g}",
        )
        for name, vals in values.items()
    ]
    every = max(len(hours) // 6, 1)
    ticks = [(LEFT + i * step, h.strftime("%H:%M")) for i, h in enumerate(hours) if i % every == 0]
    return Chart(title, unit, series, top, ticks)
