"""The run report's content: the template's values and the Bokeh figures of a run folder."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from sim.labels import Labels
from sim.report._format import number
from sim.report._run import (
    county_ranking,
    headline_rows,
    lead_hours,
    read_parcels,
    read_run,
    stage_hours,
    township_ranking,
    uncovered_rows,
)


def run_context(folder: Path, words: Labels) -> tuple[dict[str, Any], dict[str, Any]]:
    """The template's values and the figures (by name) of a run folder's report."""
    from sim.diagnose import explain
    from sim.report._charts import lead_histogram, stage_bars
    from sim.report._map import coverage_map

    data = read_run(folder)
    meta = data.meta
    layers = meta.get("synthetic_layers", [])
    if not isinstance(layers, list):
        layers = [layers]
    layers_text = ", ".join(words.layer(str(x)) for x in layers)
    towns, n_towns = township_ranking(data, words)
    villages, n_villages = uncovered_rows(data, words)
    figures: dict[str, Any] = {"map": coverage_map(data, words)}
    context: dict[str, Any] = {
        "kind": "run",
        "title": words("run_title", name=meta.get("scenario", folder.name)),
        "facts": words(
            "run_facts",
            region=meta.get("region", ""),
            replications=meta.get("replications"),
            seed=meta.get("seed"),
            layers=layers_text or words("none"),
        ),
        "synthetic": words("synthetic_mark", layers=layers_text) if layers_text else "",
        "headline": headline_rows(data, words),
        "why": explain(
            data.summary,
            data.coverage,
            days=max(1, round((data.window_min[1] - data.window_min[0]) / 1440.0)),
            max_lead_h=data.limits.max_lead_time_h,
        ),
        "counties": county_ranking(data, words),
        "townships": towns,
        "townships_shown": _shown(len(towns), n_towns, words),
        "uncovered": villages,
        "uncovered_total": f"{n_villages:,}",
        "uncovered_shown": _shown(len(villages), n_villages, words),
        "stages": [],
        "stages_note": "",
        "lead_png": "",
    }
    written = str(meta.get("parcels_written", "all"))
    parcels = read_parcels(folder, meta)
    if parcels is None or parcels.empty:
        context["stages_note"] = words("stages_none", written=written)
    else:
        stages = stage_hours(parcels, data.window_min)
        context["stages"] = [
            {
                "stage": words.stage(str(r["stage"])),
                "p50": number(float(r["p50"]), "hours"),
                "mean": number(float(r["mean"]), "hours"),
                "p95": number(float(r["p95"]), "hours"),
            }
            for r in stages.to_dict("records")
        ]
        n = int(stages["n"].iloc[0]) if len(stages) else 0
        note = words("stages_note", n=f"{n:,}")
        context["stages_note"] = note + (words("stages_sample") if written != "all" else "")
        figures["stages"] = stage_bars(stages, words)
    if written == "all" and parcels is not None:
        lead = lead_hours(parcels, data.window_min)
        figures["lead"] = lead_histogram(lead, data.limits.max_lead_time_h, words)
    else:
        context["lead_png"] = _png_uri(folder / "figures" / "lead_times.png")
    return context, figures


def _shown(shown: int, total: int, words: Labels) -> str:
    """``the worst 40 of 51`` or ``all 14``."""
    if shown >= total:
        return words("all_of", total=f"{total:,}")
    return words("shown_of", shown=f"{shown:,}", total=f"{total:,}")


def _png_uri(path: Path) -> str:
    """A PNG file as a ``data:`` URI (empty if there is none)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return ""
    if not raw.startswith(b"\x89PNG"):
        return ""
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")
