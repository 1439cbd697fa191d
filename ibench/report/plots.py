"""The report's plots as static SVG (no script, no library: a few KB each, viewable anywhere).

- ``metric_dots``: per metric, a dot per task × model at the mean with its 95% CI as a whisker, on an
  axis fitted to the intervals (not bars from 0, which hide the differences that matter);
- ``human_scatter``: per task, a panel per metric: the image's metric value against the raters'
  mean rating, a colour per model.

Hovering a mark shows its numbers (SVG ``<title>``).
"""

from __future__ import annotations

import math
from html import escape
from typing import Iterable, Sequence

import pandas as pd

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        pad = abs(low) * 0.05 or 0.05
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks, v = [], start
    while v <= high + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    if ticks[-1] < high:
        ticks.append(round(v, 12))
    return ticks


def _num(v: float) -> str:
    return f"{v:.4g}"


def _legend(models: Sequence[str], colours: dict[str, str], x: float, y: float) -> list[str]:
    out, cx = [], x
    for m in models:
        out.append(f'<circle cx="{cx + 5:.1f}" cy="{y:.1f}" r="4" fill="{colours[m]}"/>'
                   f'<text x="{cx + 13:.1f}" y="{y + 4:.1f}" {FONT}>{escape(m)}</text>')
        cx += 24 + 6.5 * len(m)
    return out


def _axis(ticks: list[float], sx, y0: float, y1: float, label: str = "") -> list[str]:  # noqa: ANN001
    out = [f'<line x1="{sx(ticks[0]):.1f}" y1="{y1:.1f}" x2="{sx(ticks[-1]):.1f}" y2="{y1:.1f}" stroke="#8c959f"/>']
    for t in ticks:
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}" stroke="#eaeef2"/>'
                   f'<text x="{x:.1f}" y="{y1 + 14:.1f}" text-anchor="middle" {FONT} fill="#59636e">{_num(t)}</text>')
    if label:
        mid = (sx(ticks[0]) + sx(ticks[-1])) / 2
        out.append(f'<text x="{mid:.1f}" y="{y1 + 28:.1f}" text-anchor="middle" {FONT} fill="#59636e">'
                   f'{escape(label)}</text>')
    return out


def metric_dots(metrics: pd.DataFrame, width: int = 640) -> list[tuple[str, str]]:
    """(metric, SVG) per metric: tasks down the side, a dot + CI whisker per model in each task's band."""
    out = []
    models = sorted(metrics["model"].unique())
    colours = {m: PALETTE[j % len(PALETTE)] for j, m in enumerate(models)}
    for metric, g in metrics.groupby("metric", sort=True):
        g = g.dropna(subset=["mean"])
        if g.empty:
            continue
        tasks = list(dict.fromkeys(g["task"]))
        here = [m for m in models if m in set(g["model"])]
        lows = g["ci_low"].where(g["ci_low"].notna(), g["mean"])
        highs = g["ci_high"].where(g["ci_high"].notna(), g["mean"])
        ticks = nice_ticks(float(lows.min()), float(highs.max()))
        left, right, top, row = 150, 20, 26, 12
        band = row * len(here) + 10
        height = top + band * len(tasks) + 40
        x0, x1 = left, width - right

        def sx(v: float) -> float:
            return x0 + (v - ticks[0]) / (ticks[-1] - ticks[0]) * (x1 - x0)

        better = "higher" if bool(g["higher_is_better"].iloc[0]) else "lower"
        parts = _legend(here, colours, left, 10)
        parts += _axis(ticks, sx, top, top + band * len(tasks), f"{metric} ({better} is better), mean and 95% CI")
        for k, task in enumerate(tasks):
            y = top + band * k
            if k % 2:
                parts.append(f'<rect x="0" y="{y:.1f}" width="{width}" height="{band}" fill="#f6f8fa" opacity="0.6"/>')
            parts.append(f'<text x="{left - 8}" y="{y + band / 2 + 4:.1f}" text-anchor="end" {FONT}>{escape(task)}</text>')
            for j, model in enumerate(here):
                hit = g[(g["task"] == task) & (g["model"] == model)]
                if hit.empty:
                    continue
                r = hit.iloc[0]
                cy = y + 5 + row * j + row / 2
                lo = r["ci_low"] if pd.notna(r["ci_low"]) else r["mean"]
                hi = r["ci_high"] if pd.notna(r["ci_high"]) else r["mean"]
                cover = coverage_of(r)
                tip = f"{task} · {model}: {_num(r['mean'])} [{_num(lo)}, {_num(hi)}]" + (f"; {cover}" if cover else "")
                parts.append(f'<g><title>{escape(tip)}</title>'
                             f'<line x1="{sx(lo):.1f}" y1="{cy:.1f}" x2="{sx(hi):.1f}" y2="{cy:.1f}" '
                             f'stroke="{colours[model]}" stroke-width="2"/>'
                             f'<circle cx="{sx(r["mean"]):.1f}" cy="{cy:.1f}" r="4" fill="{colours[model]}"/>'
                             + (f'<text x="{sx(hi) + 6:.1f}" y="{cy + 4:.1f}" {FONT} fill="#9a6700" '
                                f'data-coverage="{escape(cover)}">{escape(cover)}</text>' if cover else "") + '</g>')
        out.append((metric, _svg(width, height, parts, f"{metric}: mean and 95% CI per task and model")))
    return out


def coverage_of(row) -> str:  # noqa: ANN001 - a table row (Series or namedtuple)
    """The short coverage a point states beside itself (``40/60``), ``""`` when it is over everything planned."""
    value = row.get("coverage_short", "") if hasattr(row, "get") else getattr(row, "coverage_short", "")
    return value if isinstance(value, str) else ""


def _svg(width: float, height: float, parts: Iterable[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
            f'height="{height:.0f}" role="img" aria-label="{escape(label)}">' + "".join(parts) + "</svg>")


def human_scatter(joined: pd.DataFrame, measure: str = "O", panel: int = 220) -> list[tuple[str, str]]:
    """(task, SVG) per task: one panel per metric, metric value (x) against the mean human ``measure`` (y)."""
    out = []
    if joined is None or joined.empty or measure not in joined.columns:
        return out
    models = sorted(joined["model"].unique())
    colours = {m: PALETTE[j % len(PALETTE)] for j, m in enumerate(models)}
    for task, g in joined.groupby("task", sort=True):
        metrics = sorted(g["metric"].unique())
        left, top, gap = 40, 28, 24
        width = left + (panel + gap) * len(metrics)
        height = top + panel + 44
        parts = _legend(models, colours, left, 10)
        yticks = [0.0, 0.5, 1.0]
        for c, metric in enumerate(metrics):
            gm = g[g["metric"] == metric].dropna(subset=["value", measure])
            px = left + (panel + gap) * c
            ticks = nice_ticks(float(gm["value"].min()), float(gm["value"].max()), 4) if len(gm) else [0.0, 1.0]

            def sx(v: float, px=px, ticks=ticks) -> float:  # noqa: ANN001
                return px + (v - ticks[0]) / (ticks[-1] - ticks[0]) * panel

            def sy(v: float) -> float:
                return top + panel - v * panel

            parts += _axis(ticks, sx, top, top + panel, metric)
            for t in yticks:
                parts.append(f'<line x1="{px}" y1="{sy(t):.1f}" x2="{px + panel}" y2="{sy(t):.1f}" stroke="#eaeef2"/>')
                if c == 0:
                    parts.append(f'<text x="{px - 6}" y="{sy(t) + 4:.1f}" text-anchor="end" {FONT} fill="#59636e">'
                                 f'{t:g}</text>')
            for r in gm.itertuples():
                value, rating = float(r.value), float(getattr(r, measure))
                tip = f"{r.model} · {r.instance_id} #{r.sample}: {metric} {_num(value)}, human {measure} {rating:.2f}"
                parts.append(f'<circle cx="{sx(value):.1f}" cy="{sy(rating):.1f}" r="3.5" fill="{colours[r.model]}" '
                             f'fill-opacity="0.75"><title>{escape(tip)}</title></circle>')
        out.append((task, _svg(width, height, parts, f"{task}: metric against human {measure}")))
    return out


def curve(points: pd.DataFrame, metric: str, higher_is_better: bool, width: int = 420, height: int = 260) -> str:
    """A line per model of ``mean`` (with 95% CI whiskers) against the integer ``n_references``."""
    models = sorted(points["model"].unique())
    colours = {m: PALETTE[j % len(PALETTE)] for j, m in enumerate(models)}
    ns = sorted(int(n) for n in points["n_references"].unique())
    lows = points["ci_low"].where(points["ci_low"].notna(), points["mean"])
    highs = points["ci_high"].where(points["ci_high"].notna(), points["mean"])
    yticks = nice_ticks(float(lows.min()), float(highs.max()), 4)
    if not yticks or not ns:
        return ""
    left, right, top, bottom = 52, 16, 26, 44
    span = max(ns[-1] - ns[0], 1)

    def sx(n: float) -> float:
        return left + (n - ns[0]) / span * (width - left - right)

    def sy(v: float) -> float:
        return top + (yticks[-1] - v) / (yticks[-1] - yticks[0]) * (height - top - bottom)

    better = "higher" if higher_is_better else "lower"
    parts = _legend(models, colours, left, 10)
    parts += _axis([float(n) for n in ns], sx, top, height - bottom, "subject references N")
    for t in yticks:
        parts.append(f'<line x1="{left}" y1="{sy(t):.1f}" x2="{width - right}" y2="{sy(t):.1f}" stroke="#eaeef2"/>'
                     f'<text x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end" {FONT} fill="#59636e">{_num(t)}</text>')
    parts.append(f'<text x="{left}" y="{height - 4}" {FONT} fill="#59636e">{escape(metric)} ({better} is better)</text>')
    for model, d in points.groupby("model", sort=True):
        d = d.sort_values("n_references")
        path = " ".join(f"{sx(n):.1f},{sy(m):.1f}" for n, m in zip(d["n_references"], d["mean"]) if pd.notna(m))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colours[model]}" stroke-width="2"/>')
        for r in d.itertuples():
            if pd.isna(r.mean):
                continue
            lo = r.ci_low if pd.notna(r.ci_low) else r.mean
            hi = r.ci_high if pd.notna(r.ci_high) else r.mean
            cover = coverage_of(r)
            tip = f"{model}, N={r.n_references}: {_num(r.mean)} [{_num(lo)}, {_num(hi)}]" + (f"; {cover}" if cover else "")
            parts.append(f'<g><title>{escape(tip)}</title><line x1="{sx(r.n_references):.1f}" y1="{sy(lo):.1f}" '
                         f'x2="{sx(r.n_references):.1f}" y2="{sy(hi):.1f}" stroke="{colours[model]}"/>'
                         f'<circle cx="{sx(r.n_references):.1f}" cy="{sy(r.mean):.1f}" r="4" fill="{colours[model]}"/>'
                         + (f'<text x="{sx(r.n_references) + 6:.1f}" y="{sy(r.mean) - 6:.1f}" {FONT} fill="#9a6700" '
                            f'data-coverage="{escape(cover)}">{escape(cover)}</text>' if cover else "") + '</g>')
    return _svg(width, height, parts, f"{metric} against the number of references")
