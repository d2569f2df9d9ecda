"""The report's interactive charts (Bokeh): lead times, stages, Pareto front, sensitivity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from sim.labels import Labels
from sim.report._format import clip_ci, number
from sim.viz.pareto import pareto_front

if TYPE_CHECKING:
    from bokeh.plotting import figure as Figure


def _figure(words: Labels, **kwargs: Any) -> Figure:
    """A stretched-width figure with pan, zoom, reset and save, and no logo (no link out)."""
    from bokeh.plotting import figure

    p = figure(
        height=kwargs.pop("height", 360),
        sizing_mode="stretch_width",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        **kwargs,
    )
    p.toolbar.logo = None
    return p


def lead_histogram(lead_h: np.ndarray, standard_h: float, words: Labels) -> Figure:
    """Histogram of lead hours in 2-hour bins, with p50, p95 and the standard as lines."""
    from bokeh.models import HoverTool
    from bokeh.models.annotations import Span

    top = max(2.0, float(lead_h.max()) if len(lead_h) else 2.0, standard_h)
    edges = np.arange(0.0, top + 2.0, 2.0)
    counts, _ = np.histogram(lead_h, bins=edges)
    p = _figure(words, x_axis_label=words("lead_h"), y_axis_label=words("parcels"))
    bars = p.quad(
        top=counts, bottom=0, left=edges[:-1], right=edges[1:], color="#264653", alpha=0.85
    )
    p.add_tools(
        HoverTool(
            renderers=[bars],
            tooltips=[(words("lead_h"), "@left{0} – @right{0}"), (words("parcels"), "@top{0,0}")],
        )
    )
    if len(lead_h):
        for q in (50, 95):
            value = float(np.percentile(lead_h, q))
            p.add_layout(
                Span(
                    location=value,
                    dimension="height",
                    line_color="#e76f51",
                    line_dash="dashed",
                    line_width=2,
                )
            )
    p.add_layout(Span(location=standard_h, dimension="height", line_color="black", line_width=2))
    return p


def stage_bars(stages: pd.DataFrame, words: Labels) -> Figure:
    """Mean and p95 hours of each stage, side by side, with p50 in the hover."""
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.transform import dodge

    names = [words.stage(s) for s in stages["stage"]]
    src = ColumnDataSource(
        {
            "stage": names,
            "mean": stages["mean"].to_numpy(),
            "p95": stages["p95"].to_numpy(),
            "p50_t": [number(v, "hours") for v in stages["p50"]],
            "mean_t": [number(v, "hours") for v in stages["mean"]],
            "p95_t": [number(v, "hours") for v in stages["p95"]],
        }
    )
    p = _figure(words, y_range=list(reversed(names)), x_axis_label=words("hours"), height=300)
    a = p.hbar(
        y=dodge("stage", 0.18, range=p.y_range),
        right="mean",
        height=0.34,
        source=src,
        color="#2a9d8f",
        legend_label=words("mean_h"),
    )
    b = p.hbar(
        y=dodge("stage", -0.18, range=p.y_range),
        right="p95",
        height=0.34,
        source=src,
        color="#e76f51",
        legend_label=words("p95_h"),
    )
    p.add_tools(
        HoverTool(
            renderers=[a, b],
            tooltips=[
                (words("stage"), "@stage"),
                (words("p50_h"), "@p50_t"),
                (words("mean_h"), "@mean_t"),
                (words("p95_h"), "@p95_t"),
            ],
        )
    )
    p.legend.location = "bottom_right"
    return p


def variant_labels(design: pd.DataFrame) -> dict[int, str]:
    """Each variant's factor values as a short label: ``van=2, visits_per_week=5``."""
    factors = [c for c in design.columns if c != "variant"]
    out = {}
    for r in design.to_dict("records"):
        parts = [f"{str(f).rsplit('.', 1)[-1]}={_short(r[f])}" for f in factors]
        out[int(r["variant"])] = ", ".join(parts)
    return out


def _short(value: object) -> str:
    """A factor value, floats to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


_COST, _COVERAGE = "cost_per_parcel_yuan", "village_express_coverage"


def pareto_data(
    summary: pd.DataFrame, design: pd.DataFrame, *, scope: str = "province"
) -> dict[str, Any]:
    """Per variant: cost and coverage (%) with clipped 95% bounds and the factor label.

    Variants without both KPIs are left out; an undefined interval (one replication) is the
    mean itself.
    """
    s = summary[summary["scope"] == scope]
    t = pd.DataFrame(
        {
            (col, kpi): s[s["kpi"] == kpi].groupby("variant")[col].first()
            for col in ("mean", "ci95_low", "ci95_high")
            for kpi in (_COST, _COVERAGE)
        }
    )
    t = t.dropna(subset=[("mean", _COST), ("mean", _COVERAGE)])
    labels = variant_labels(design) if "variant" in design else {}
    cost, cov = t[("mean", _COST)].to_numpy(float), t[("mean", _COVERAGE)].to_numpy(float)
    xl, xh = _clipped(t, _COST, "yuan")
    yl, yh = _clipped(t, _COVERAGE, "share")
    return {
        "x": cost,
        "y": cov * 100,
        "xl": xl,
        "xh": xh,
        "yl": yl * 100,
        "yh": yh * 100,
        "variant": [str(v) for v in t.index],
        "label": [labels.get(int(v), str(v)) for v in t.index],
        "cost_t": [number(v, "yuan") for v in cost],
        "cov_t": [number(v, "share") for v in cov],
    }


def pareto_chart(
    summary: pd.DataFrame, design: pd.DataFrame, words: Labels, *, scope: str = "province"
) -> Figure:
    """Cost per parcel against village coverage: variants with 95% CI whiskers on both axes,
    labelled by their factor values, and the Pareto front."""
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.models.annotations import LabelSet, Whisker

    data = pareto_data(summary, design, scope=scope)
    src = ColumnDataSource(data)
    p = _figure(
        words,
        height=480,
        x_axis_label=words(_COST) + " (" + words("u_yuan") + ")",
        y_axis_label=words(_COVERAGE) + " (%)",
    )
    whiskers: tuple[tuple[str, str, str, Literal["width", "height"]], ...] = (
        ("x", "yl", "yh", "height"),
        ("y", "xl", "xh", "width"),
    )
    for base, lower, upper, dim in whiskers:
        p.add_layout(
            Whisker(
                source=src, base=base, lower=lower, upper=upper, dimension=dim, line_color="#888888"
            )
        )
    dots = p.scatter("x", "y", source=src, size=9, color="#264653", legend_label=words("variant"))
    front = pareto_front(data["x"], data["y"])
    if len(front):
        fx, fy = data["x"][front], data["y"][front]
        p.line(fx, fy, color="#e76f51", line_width=2, legend_label=words("front"))
        p.scatter(
            fx,
            fy,
            size=13,
            fill_color=None,
            line_color="#e76f51",
            line_width=2,
            legend_label=words("front"),
        )
    p.add_layout(
        LabelSet(
            x="x",
            y="y",
            text="label",
            source=src,
            x_offset=6,
            y_offset=4,
            text_font_size="10px",
            text_color="#333333",
        )
    )
    tips = [(words("variant"), "@variant"), ("", "@label"), (words(_COST), "@cost_t")]
    p.add_tools(HoverTool(renderers=[dots], tooltips=[*tips, (words(_COVERAGE), "@cov_t")]))
    p.add_layout(p.legend[0], "right")
    return p


def _clipped(t: pd.DataFrame, kpi: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The clipped CI bounds of ``kpi`` (the mean where the interval is undefined)."""
    mean = t[("mean", kpi)].to_numpy(float)
    low = t[("ci95_low", kpi)].to_numpy(float)
    high = t[("ci95_high", kpi)].to_numpy(float)
    low, high = np.where(np.isfinite(low), low, mean), np.where(np.isfinite(high), high, mean)
    pairs = [clip_ci(a, b, kind) for a, b in zip(low, high, strict=True)]
    return np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])


def sensitivity_bars(indices: pd.DataFrame, kpi: str, words: Labels) -> Figure:
    """Total Sobol index (or Morris mu*) of each factor for one KPI, with its confidence."""
    from bokeh.models import ColumnDataSource
    from bokeh.models.annotations import Whisker

    rows = indices[indices["kpi"] == kpi]
    key, err = ("ST", "ST_conf") if "ST" in rows else ("mu_star", "mu_star_conf")
    value = pd.to_numeric(rows[key], errors="coerce").to_numpy(float)
    conf = pd.to_numeric(rows[err], errors="coerce").fillna(0).to_numpy(float)
    factors = [str(f) for f in rows["factor"]]
    src = ColumnDataSource({"factor": factors, "v": value, "lo": value - conf, "hi": value + conf})
    p = _figure(
        words,
        y_range=list(reversed(list(dict.fromkeys(factors)))),
        height=260,
        x_axis_label=words("sobol_st" if key == "ST" else "morris_mu"),
    )
    p.hbar(y="factor", right="v", height=0.6, source=src, color="#2a9d8f")
    p.add_layout(Whisker(source=src, base="factor", lower="lo", upper="hi", dimension="width"))
    return p
