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


# --- Model Explorer: views of the evaluation table --------------------------------------------------------

def confusion_squares(matrix: np.ndarray, classes: Sequence[str], side: int = 500) -> go.Figure:
    """The confusion matrix as a scatter of square markers, one per cell (rows = true, columns = predicted).

    Why not a heatmap: Streamlit returns no selection from a Plotly heatmap, and a click on a cell must open
    its faces. Each marker's customdata is (true class, predicted class, count); its colour is the share of
    its row, as in `confusion_heatmap`. Drawn `side` pixels square (a marker's size is in pixels, so the
    figure's size is fixed for the squares to tile).
    """
    m = np.asarray(matrix, dtype=float)
    k = m.shape[0]
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    labels = [display_name(c) for c in classes]
    ii, jj = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    counts = m[ii, jj].astype(int)
    fig = go.Figure(go.Scatter(
        x=[labels[j] for j in jj], y=[labels[i] for i in ii], mode="markers+text",
        marker=dict(symbol="square", size=int((side - 110) / k) - 3, color=share[ii, jj], cmin=0, cmax=1,
                    colorscale=[[0, "#F7FBFF"], [0.5, "#6BAED6"], [1, "#08306B"]], showscale=False,
                    line=dict(color=["#1F2933" if i == j else "#D9E2EC" for i, j in zip(ii, jj)], width=1)),
        text=[str(c) if c else "" for c in counts],
        textfont=dict(size=13, color=["#FFFFFF" if s > 0.55 else "#1F2933" for s in share[ii, jj]]),
        selected=dict(marker=dict(opacity=1.0)),
        unselected=dict(marker=dict(opacity=0.5), textfont=dict(color="#7B8794")),  # the clicked cell stands out
        customdata=np.column_stack([[classes[i] for i in ii], [classes[j] for j in jj], counts]),
        hovertemplate="true %{y}, predicted %{x}: %{customdata[2]} faces (%{marker.color:.0%} of row)"
                      "<br>click to show them in the gallery<extra></extra>",
    ))
    style(fig, side)
    fig.update_layout(width=side, clickmode="event+select", dragmode=False, margin=dict(l=90, r=10, t=10, b=90))
    fig.update_xaxes(title="predicted", tickangle=-35, categoryorder="array", categoryarray=labels, showgrid=False,
                     range=[-0.5, k - 0.5], fixedrange=True)
    fig.update_yaxes(title="true", categoryorder="array", categoryarray=labels, autorange="reversed",
                     showgrid=False, fixedrange=True)
    return fig


def embedding_map(points: np.ndarray, colour_by: Sequence[str], hover: Sequence[str], rows: Sequence[int],
                  height: int = 560, palette: Mapping[str, str] | None = None) -> go.Figure:
    """A 2-D map of the model's features, one trace per colour group (a legend entry each).

    `colour_by` is each point's group (an emotion or "right" / "wrong"), `hover` its hover text, `rows` its
    row in the evaluation table (customdata[0]: a selection hands it back, the hover picture shows its face).
    Drawn with WebGL (`Scattergl`): thousands of points stay smooth.
    """
    palette = dict(palette or COLORS_HEX)
    groups = np.asarray(colour_by)
    order = [g for g in list(EMOTIONS) + ["right", "wrong", "no face"] if g in set(groups)]
    order += sorted(set(groups) - set(order))
    fig = go.Figure()
    for g in order:
        idx = np.flatnonzero(groups == g)
        custom = [[int(r)] for r in np.asarray(rows)[idx]]  # a list: Plotly would send an array as binary
        fig.add_trace(go.Scattergl(
            x=points[idx, 0].tolist(), y=points[idx, 1].tolist(), mode="markers", name=display_name(g),
            marker=dict(color=palette.get(g, "#888888"), size=6, opacity=0.8, line=dict(width=0)),
            text=np.asarray(hover, dtype=object)[idx], customdata=custom,
            hovertemplate="%{text}<extra></extra>",
        ))
    style(fig, height)
    fig.update_layout(showlegend=True, dragmode="lasso", clickmode="event+select",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, itemsizing="constant"),
                      margin=dict(l=10, r=10, t=30, b=10))
    fig.update_xaxes(showticklabels=False, showgrid=False)
    fig.update_yaxes(showticklabels=False, showgrid=False)
    return fig


def reliability_diagram(curves: Mapping[str, pd.DataFrame], height: int = 380) -> go.Figure:
    """Accuracy against confidence per confidence bin, one line per curve ("before", "after"), with the
    diagonal of perfect calibration and grey bars for how many faces fall in each bin (of the first curve
    named "after ...").

    Each frame needs `confidence` (mean confidence in the bin), `accuracy` (share right in the bin) and
    `count`; empty bins are left out.
    """
    colours = ["#9AA5B1", "#2563EB", "#D55E00", "#009E73"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                             line=dict(color="#CBD2D9", dash="dash", width=1.5), hoverinfo="skip"))
    counted = False
    for (name, frame), colour in zip(curves.items(), colours):
        frame = frame[frame["count"] > 0]
        if not counted and "after" in name:  # one set of bars: how many faces each bin holds
            counted = True
            fig.add_trace(go.Bar(x=frame["confidence"], y=frame["count"], name="faces", yaxis="y2",
                                 marker=dict(color="#CBD2D9", opacity=0.45), width=1 / 15 * 0.9, showlegend=False,
                                 hovertemplate="%{y} faces near %{x:.0%} confidence<extra></extra>"))
        fig.add_trace(go.Scatter(x=frame["confidence"], y=frame["accuracy"], mode="lines+markers", name=name,
                                 line=dict(color=colour, width=2.4), marker=dict(size=7),
                                 hovertemplate=f"{name}: %{{x:.0%}} confident, %{{y:.0%}} right<extra></extra>"))
    style(fig, height)
    fig.update_layout(showlegend=True, barmode="overlay",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
                      yaxis=dict(range=[0, 1.02], tickformat=".0%", title="share right"),
                      yaxis2=dict(overlaying="y", side="right", showgrid=False, title="faces", rangemode="tozero"))
    fig.update_xaxes(range=[0, 1.0], tickformat=".0%", title="confidence (top probability)")
    return fig


def recall_side_by_side(recalls: pd.DataFrame, names: Sequence[str], height: int = 320) -> go.Figure:
    """Per-class recall of two models as paired bars (dark: the first, light: the second); `recalls` is indexed
    by class with one column per name."""
    labels = [display_name(c) for c in recalls.index]
    fig = go.Figure()
    for name, colour in zip(names, ("#1F4E8C", "#E69F00")):
        fig.add_trace(go.Bar(x=labels, y=recalls[name], name=name, marker=dict(color=colour),
                             text=[f"{v:.0%}" for v in recalls[name]], textposition="outside", cliponaxis=False,
                             hovertemplate=f"{name}, %{{x}}: recall %{{y:.0%}}<extra></extra>"))
    style(fig, height)
    fig.update_layout(barmode="group", showlegend=True, legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    fig.update_yaxes(range=[0, 1.1], tickformat=".0%", title="recall")
    return fig


def slice_intervals(frame: pd.DataFrame, overall: float | None = None, height: int | None = None) -> go.Figure:
    """Accuracy per slice with its 95 % interval, worst first, as dots with error bars; each point's
    customdata is its row number in `frame` (a click hands it back). `frame` needs `label`, `accuracy`,
    `low`, `high` and `n` (faces), as `fer_core.explore.slices` gives them; `overall`, the whole set's
    accuracy, is drawn as a dashed line."""
    frame = frame.reset_index(drop=True)
    fig = go.Figure(go.Scatter(
        x=frame["accuracy"], y=frame["label"], mode="markers",
        marker=dict(size=11, color="#2563EB", symbol="square"),
        error_x=dict(type="data", symmetric=False, array=frame["high"] - frame["accuracy"],
                     arrayminus=frame["accuracy"] - frame["low"], color="#9AA5B1", thickness=1.5),
        customdata=np.column_stack([frame.index.to_numpy(), frame["n"].to_numpy()]),
        hovertemplate="%{y}: %{x:.0%} right of %{customdata[1]} faces<br>click to show them<extra></extra>",
    ))
    style(fig, height or max(260, 26 * len(frame) + 60))
    if overall is not None:
        fig.add_vline(x=overall, line=dict(color="#D55E00", dash="dash", width=1.5),
                      annotation=dict(text=f"whole set {overall:.0%}", font=dict(size=11, color="#D55E00")),
                      annotation_position="top")
    fig.update_layout(clickmode="event+select", dragmode=False)
    fig.update_xaxes(range=[0, 1.02], tickformat=".0%", title="accuracy (95 % interval)", fixedrange=True)
    fig.update_yaxes(autorange="reversed", fixedrange=True, type="category")
    return fig
