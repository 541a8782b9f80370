"""Charts drawn with matplotlib as SVG (deterministic bytes: fixed ids, no date), embedded in
the report as data URIs so it fetches nothing."""

from __future__ import annotations

import base64
import io

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from features.insights.model import Chart

matplotlib.use("Agg")
STYLE = {"svg.hashsalt": "engage", "svg.fonttype": "path", "font.size": 9, "axes.spines.top": False,
         "axes.spines.right": False, "axes.prop_cycle": matplotlib.cycler(color=[
             "#3b6ea8", "#e07b39", "#5a9e6f", "#b8514f", "#8a6bb1", "#9c7a56", "#d387b8", "#7f7f7f"])}
MAX_TICK_LABEL = 28


def _label(value) -> str:
    text = str(value)
    return text if len(text) <= MAX_TICK_LABEL else text[:MAX_TICK_LABEL - 1] + "…"


def _draw(chart: Chart, ax) -> None:
    data = chart.data
    x = np.arange(len(data))
    if chart.kind in ("bar", "barh"):
        width = 0.8 / max(len(data.columns), 1)
        for i, column in enumerate(data.columns):
            offset = (i - (len(data.columns) - 1) / 2) * width
            values = data[column].astype(float).fillna(0).to_numpy()
            (ax.barh if chart.kind == "barh" else ax.bar)(x + offset, values, width, label=str(column))
        labels = [_label(v) for v in data.index]
        if chart.kind == "barh":
            ax.set_yticks(x, labels)
        else:
            ax.set_xticks(x, labels, rotation=45 if len(data) > 6 or max(map(len, labels), default=0) > 10 else 0,
                          ha="right" if len(data) > 6 else "center")
    elif chart.kind == "line":
        for column in data.columns:
            ax.plot(data.index.astype(float), data[column].astype(float), marker="o", label=str(column))
        ax.set_xticks(data.index.astype(float), [str(int(i) + 1) for i in data.index])
    elif chart.kind == "calibration":
        ax.plot([0, 1], [0, 1], linestyle="--", color="#999999", label="perfect")
        ax.plot(data.index.astype(float), data.iloc[:, 0].astype(float), marker="o", label="model")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    elif chart.kind == "interval":
        values = data["uplift"].to_numpy(float)
        errors = np.vstack([values - data["low"].to_numpy(float), data["high"].to_numpy(float) - values])
        ax.errorbar(values, x, xerr=errors, fmt="o", capsize=3)
        ax.axvline(0, color="#999999", linewidth=0.8)
        ax.set_yticks(x, [_label(v) for v in data.index])
    else:
        raise ValueError(f"unknown chart kind {chart.kind!r}")
    if (len(data.columns) > 1 and chart.kind != "interval") or chart.kind == "calibration":
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_xlabel(chart.xlabel)
    ax.set_ylabel(chart.ylabel)


def chart_svg(chart: Chart) -> bytes:
    """Return ``chart`` drawn as SVG bytes (identical bytes for identical data)."""
    rows = len(chart.data) if chart.kind in ("barh", "interval") else 0
    height = max(2.8, 0.6 + 0.28 * rows)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(7.0, height))
        _draw(chart, figure.subplots())
        out = io.BytesIO()
        figure.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return out.getvalue()


def chart_data_uri(chart: Chart) -> str:
    """Return ``chart`` as a ``data:image/svg+xml;base64,...`` URI."""
    return "data:image/svg+xml;base64," + base64.b64encode(chart_svg(chart)).decode("ascii")
