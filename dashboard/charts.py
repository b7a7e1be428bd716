"""Plotly figure builders. Every chart colours an emotion with `COLORS_HEX`, so an emotion looks the same
on every page, in every chart and on every annotated image."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fer_core.emotions import COLORS_HEX, EMOTIONS, display_name

FONT = dict(family="Inter, 'Source Sans Pro', sans-serif", size=13, color="#1F2933")
GRID = "#E6EAF0"


def style(fig: go.Figure, height: int, title: str | None = None, **kwargs) -> go.Figure:
    """The dashboard's look for any figure: font, transparent background, light grid, a left-aligned title."""
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        title=dict(text=title, font=dict(size=15), x=0, xanchor="left") if title else None,
        font=FONT,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
        **kwargs,
    )
    fig.update_xaxes(gridcolor=GRID, zeroline=False)
    fig.update_yaxes(gridcolor=GRID, zeroline=False)
    return fig


def probability_bars(probabilities: Mapping[str, float], title: str | None = None, height: int = 260) -> go.Figure:
    """Horizontal bars, one per emotion in model order, the winner outlined."""
    names = [e for e in EMOTIONS if e in probabilities]
    values = [float(probabilities[e]) for e in names]
    best = names[int(np.argmax(values))] if values else None
    fig = go.Figure(
        go.Bar(
            x=values,
            y=[display_name(e) for e in names],
            orientation="h",
            marker=dict(
                color=[COLORS_HEX[e] for e in names],
                line=dict(color=["#1F2933" if e == best else "rgba(0,0,0,0)" for e in names], width=1.5),
            ),
            text=[f"{v:.0%}" for v in values],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    style(fig, height, title)
    fig.update_xaxes(range=[0, 1.15], tickformat=".0%", showgrid=True)
    fig.update_yaxes(autorange="reversed")
    return fig


TIMELINE_POINTS = 1000
"""The most moments a timeline draws. An hour of video analysed frame by frame is 108,000 rows per face: drawn
as they are, 21 MB of chart went to the browser, which then drew 108,000 bars. Longer timelines are cut into
this many equal spans of time, each drawn as its rows' mean probabilities and most frequent label."""


def timeline_bins(frame: pd.DataFrame, time_col: str = "time", points: int = TIMELINE_POINTS) -> pd.DataFrame:
    """One face's rows, or, when there are more than `points`, one row per span of time that has rows: its
    start time, the mean of each probability and the most frequent `smoothed_label`."""
    if len(frame) <= points:
        return frame
    t = frame[time_col].to_numpy(dtype=float)
    edges = np.linspace(t.min(), t.max(), points + 1)
    spans = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, points - 1)
    grouped = frame.groupby(spans, sort=True)
    binned = grouped[[e for e in EMOTIONS if e in frame]].mean()
    binned.insert(0, time_col, edges[binned.index.to_numpy()])
    if "smoothed_label" in frame:
        counts = pd.crosstab(spans, frame["smoothed_label"].to_numpy())
        ordered = [e for e in EMOTIONS if e in counts.columns]  # a tie goes to the first in model order
        binned["smoothed_label"] = counts[ordered].idxmax(axis=1)
    return binned.reset_index(drop=True)


def _label_runs(t: np.ndarray, labels: np.ndarray) -> list[tuple[str, float, float]]:
    """(label, start, end) for each stretch of equal labels: the band draws one bar per stretch, not per row."""
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    ends = np.append(t[1:], t[-1] + (step if step > 0 else 1.0))  # rows all at one time: a band 1 s wide
    changes = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts, stops = np.r_[0, changes], np.r_[changes, len(t)]
    return [(str(labels[a]), float(t[a]), float(ends[b - 1])) for a, b in zip(starts, stops)]


def emotion_timeline(frame: pd.DataFrame, title: str | None = None, height: int = 340,
                     time_col: str = "time", x_title: str = "time (s)", legend: bool = True) -> go.Figure:
    """Probabilities over time (one line per emotion) above a band showing the shown label at each moment.

    `frame` is one face's rows of the results table (`fer_core.results.COLUMNS`): the lines are the model's
    per-frame probabilities, the band the smoothed label. A long timeline is drawn from `timeline_bins`, and
    its title says over how many seconds each point is averaged.
    """
    frame = frame.sort_values(time_col)
    dominant = _dominant(frame)  # of the rows themselves, not of the spans' means
    binned = timeline_bins(frame, time_col)
    if len(binned) < len(frame) and title is not None:
        span = (frame[time_col].max() - frame[time_col].min()) / TIMELINE_POINTS
        title = f"{title} (means over {span:.1f} s)" if span >= 1 else f"{title} (means over {span * 1000:.0f} ms)"
    frame = binned
    t = frame[time_col].to_numpy(dtype=float)
    fig = go.Figure()
    for e in EMOTIONS:
        if e not in frame:
            continue
        fig.add_trace(go.Scatter(
            x=t, y=frame[e], mode="lines", name=display_name(e),
            line=dict(color=COLORS_HEX[e], width=2.2 if e == dominant else 1.4),
            hovertemplate=f"{display_name(e)}: %{{y:.0%}}<extra></extra>",
            yaxis="y",
        ))
    # The label band: one bar per stretch of equal labels, coloured by the label, on a second y axis.
    if "smoothed_label" in frame and len(t):
        runs = _label_runs(t, frame["smoothed_label"].to_numpy())
        fig.update_xaxes(range=[runs[0][1], runs[-1][2]])  # plotly pads wide bars' ends with empty space
        for e in EMOTIONS:
            mine = [(start, end) for label, start, end in runs if label == e]
            if not mine:
                continue
            fig.add_trace(go.Bar(
                x=[(a + b) / 2 for a, b in mine], y=[1] * len(mine), width=[b - a for a, b in mine],
                marker=dict(color=COLORS_HEX[e], line=dict(width=0)), name=display_name(e),
                hovertemplate=f"label: {display_name(e)}<extra></extra>", yaxis="y2", showlegend=False,
            ))
    style(fig, height)
    fig.update_layout(
        showlegend=True,
        margin=dict(l=10, r=10, t=36, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, font=dict(size=11),
                    title=dict(text=f"<b>{title}</b>  " if title else "", font=dict(size=13))),
        yaxis=dict(domain=[0.2, 1.0], range=[0, 1.02], tickformat=".0%", title="probability"),
        yaxis2=dict(domain=[0.0, 0.12], range=[0, 1], showticklabels=False, showgrid=False, title="label"),
        bargap=0,
        hovermode="x unified",
    )
    fig.update_xaxes(title=x_title)
    fig.update_layout(xaxis=dict(anchor="y2"))  # ticks and title under the label band
    if not legend:  # only the title; the page shows the colour key
        fig.update_layout(showlegend=False, title=dict(text=f"<b>{title}</b>" if title else None,
                                                       font=dict(size=13), x=0.01, xanchor="left", y=0.97))
    return fig


def _dominant(frame: pd.DataFrame) -> str | None:
    cols = [e for e in EMOTIONS if e in frame]
    if not cols or frame.empty:
        return None
    return str(frame[cols].mean().idxmax())


def share_of_time(shares: Mapping[str, float], title: str | None = None, height: int = 260) -> go.Figure:
    """Share of time per emotion (fractions summing to 1) as a donut."""
    names = [e for e in EMOTIONS if shares.get(e, 0) > 0]
    fig = go.Figure(go.Pie(
        labels=[display_name(e) for e in names],
        values=[float(shares[e]) for e in names],
        marker=dict(colors=[COLORS_HEX[e] for e in names], line=dict(color="#FFFFFF", width=2)),
        hole=0.55, sort=False, direction="clockwise", texttemplate="%{label}<br>%{percent:.0%}",
        textposition="inside", insidetextorientation="horizontal",
        hovertemplate="%{label}: %{percent:.1%}<extra></extra>",
    ))
    style(fig, height, title)
    # A slice too thin for its label shows none (the hover still names it), rather than a label cut off.
    fig.update_layout(uniformtext=dict(minsize=10, mode="hide"))
    return fig


def confusion_heatmap(matrix: np.ndarray, classes: Sequence[str], normalise: bool = True,
                      title: str | None = None, height: int = 420) -> go.Figure:
    """Confusion matrix, rows = true class, columns = predicted class; cells show counts (and row share)."""
    m = np.asarray(matrix, dtype=float)
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    z = share if normalise else m
    labels = [display_name(c) for c in classes]
    text = [[f"{int(m[i, j])}" if m[i, j] else "" for j in range(m.shape[1])] for i in range(m.shape[0])]
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, text=text, texttemplate="%{text}", textfont=dict(size=13),
        colorscale=[[0, "#F7FBFF"], [0.5, "#6BAED6"], [1, "#08306B"]], zmin=0, zmax=1 if normalise else None,
        hovertemplate="true %{y}, predicted %{x}: %{text} (%{z:.0%} of row)<extra></extra>",
        colorbar=dict(title="share of row", tickformat=".0%", thickness=12),
    ))
    style(fig, height, title)
    fig.update_xaxes(title="predicted", side="bottom", showgrid=False)
    fig.update_yaxes(title="true", autorange="reversed", showgrid=False)
    return fig


def precision_recall_bars(table: pd.DataFrame, title: str | None = None, height: int = 320) -> go.Figure:
    """Grouped bars of precision and recall per class; `table` is indexed by class."""
    classes = list(table.index)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=[display_name(c) for c in classes], y=table["precision"], name="precision",
                         marker=dict(color=[COLORS_HEX.get(c, "#888") for c in classes]),
                         hovertemplate="%{x} precision: %{y:.0%}<extra></extra>"))
    fig.add_trace(go.Bar(x=[display_name(c) for c in classes], y=table["recall"], name="recall",
                         marker=dict(color=[COLORS_HEX.get(c, "#888") for c in classes], opacity=0.45,
                                     pattern=dict(shape="/")),
                         hovertemplate="%{x} recall: %{y:.0%}<extra></extra>"))
    style(fig, height, title)
    fig.update_layout(barmode="group", showlegend=True,
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    return fig


def probability_comparison(classes: Sequence[str], before: Sequence[float], after: Sequence[float],
                           height: int = 300) -> go.Figure:
    """Two probability bars per class: faded for `before` (the original face), solid for `after`."""
    names = [display_name(c) for c in classes]
    colours = [COLORS_HEX.get(c, "#888") for c in classes]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=list(before), name="original", marker=dict(color=colours, opacity=0.35),
                         hovertemplate="%{x} original: %{y:.0%}<extra></extra>"))
    fig.add_trace(go.Bar(x=names, y=list(after), name="changed", marker=dict(color=colours),
                         hovertemplate="%{x} changed: %{y:.0%}<extra></extra>"))
    style(fig, height)
    fig.update_layout(barmode="group", showlegend=False)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    return fig
