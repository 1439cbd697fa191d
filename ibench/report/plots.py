"""The report's plots (plotly): per-task bars with CIs per metric, metric-vs-human scatters per task.

Figures render to ``<div>`` fragments without plotly.js; the page embeds plotly.js once
(``plotly_js()``), so the HTML works offline.
"""

from __future__ import annotations

import pandas as pd

CONFIG = {"displaylogo": False, "responsive": True}
PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]


def plotly_js() -> str:
    """The plotly.js bundle, to inline in a ``<script>`` once per page."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _div(fig, div_id: str) -> str:
    fig.update_layout(template="plotly_white", margin=dict(l=50, r=20, t=50, b=50), font=dict(size=12),
                      legend=dict(orientation="h", y=-0.2))
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=CONFIG)


def metric_bars(metrics: pd.DataFrame) -> list[tuple[str, str]]:
    """One grouped bar chart per metric: x = task, a bar per model, error bars = 95% CI."""
    import plotly.graph_objects as go

    out = []
    models = sorted(metrics["model"].unique())
    for i, (metric, g) in enumerate(metrics.groupby("metric", sort=True)):
        fig = go.Figure()
        tasks = list(dict.fromkeys(g["task"]))
        for j, model in enumerate(models):
            m = g[g["model"] == model].set_index("task").reindex(tasks)
            fig.add_bar(name=model, x=tasks, y=m["mean"], marker_color=PALETTE[j % len(PALETTE)],
                        error_y=dict(type="data", symmetric=False, array=(m["ci_high"] - m["mean"]).fillna(0),
                                     arrayminus=(m["mean"] - m["ci_low"]).fillna(0)),
                        hovertemplate="%{x}<br>%{y:.4f}<extra>" + model + "</extra>")
        better = "higher" if bool(g["higher_is_better"].iloc[0]) else "lower"
        fig.update_layout(title=f"{metric} ({better} is better), mean and 95% CI", barmode="group", height=380,
                          yaxis_title=metric)
        out.append((metric, _div(fig, f"bars-{i}")))
    return out


def human_scatter(joined: pd.DataFrame, measure: str = "O") -> list[tuple[str, str]]:
    """Per task: a panel per metric, metric value (x) vs the raters' mean ``measure`` (y), a colour per model."""
    from plotly.subplots import make_subplots

    out = []
    if joined.empty or measure not in joined.columns:
        return out
    models = sorted(joined["model"].unique())
    colours = {m: PALETTE[j % len(PALETTE)] for j, m in enumerate(models)}
    for i, (task, g) in enumerate(joined.groupby("task", sort=True)):
        metrics = sorted(g["metric"].unique())
        fig = make_subplots(rows=1, cols=len(metrics), shared_yaxes=True, subplot_titles=metrics,
                            horizontal_spacing=0.04)
        for c, metric in enumerate(metrics, start=1):
            gm = g[g["metric"] == metric]
            for model in models:
                d = gm[gm["model"] == model]
                fig.add_scatter(x=d["value"], y=d[measure], mode="markers", name=model, legendgroup=model,
                                showlegend=c == 1, marker=dict(color=colours[model], size=8, opacity=0.75),
                                text=d["instance_id"] + " #" + d["sample"].astype(str),
                                hovertemplate="%{text}<br>" + metric + " %{x:.4f}<br>" + measure
                                              + " %{y:.2f}<extra>" + model + "</extra>", row=1, col=c)
        fig.update_yaxes(title_text=f"human {measure} (mean over raters)", row=1, col=1)
        fig.update_layout(title=f"{task}: metric vs human {measure}", height=360)
        out.append((task, _div(fig, f"scatter-{i}")))
    return out
