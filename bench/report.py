"""One table of figures, each beside the ceiling it is measured against, as text and as Markdown."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    """A throughput with optional latency percentiles (milliseconds)."""

    per_second: float
    unit: str
    p50_ms: float | None = None
    p99_ms: float | None = None

    def __str__(self) -> str:
        text = f"{self.per_second:,.0f} {self.unit}"
        if self.p50_ms is not None and self.p99_ms is not None:
            text += f" (p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms)"
        return text


@dataclass(frozen=True, slots=True)
class Row:
    what: str
    figure: str
    ceiling: str = "—"
    ratio: str = "—"


def count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def ratio(value: float, ceiling: float) -> str:
    if ceiling <= 0 or not math.isfinite(value):
        return "—"
    return f"{100 * value / ceiling:.0f} %"


def headroom(value: float, reached: float) -> str:
    if reached <= 0:
        return "—"
    return f"{value / reached:.1f}×"


def compared(what: str, figure: Rate, ceiling_label: str, ceiling: Rate) -> Row:
    return Row(
        what,
        str(figure),
        f"{ceiling_label}: {ceiling.per_second:,.0f} {ceiling.unit}",
        ratio(figure.per_second, ceiling.per_second),
    )


def unavailable(what: str, why: str) -> Row:
    return Row(what, f"not available ({why})")


def markdown(rows: list[Row]) -> str:
    lines = ["| what | figure | ceiling (same run) | ratio |", "|---|---|---|---|"]
    lines += [f"| {r.what} | {r.figure} | {r.ceiling} | {r.ratio} |" for r in rows]
    return "\n".join(lines)


def plain(rows: list[Row]) -> str:
    header = Row("what", "figure", "ceiling (same run)", "ratio")
    every = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in every) for f in ("what", "figure", "ceiling", "ratio")]
    out = []
    for i, r in enumerate(every):
        cells = (r.what, r.figure, r.ceiling, r.ratio)
        out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
