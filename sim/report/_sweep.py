"""The sweep report's content: design, Pareto front and sensitivity of a sweep folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sim._files import read_table
from sim.errors import UsageError
from sim.labels import Labels
from sim.report._run import SUMMARY_COLUMNS

#: At most this many rows of the design are listed.
_DESIGN_ROWS = 50


def sweep_context(folder: Path, words: Labels) -> tuple[dict[str, Any], dict[str, Any]]:
    """The template's values and the figures (by name) of a sweep folder's report."""
    from sim.report._charts import pareto_chart, sensitivity_bars

    summary = read_table(
        folder / "summary.csv", columns=(*SUMMARY_COLUMNS, "variant"), dtype={"code": str}
    )
    design = read_table(folder / "design.csv")
    figures: dict[str, Any] = {}
    if {"cost_per_parcel_yuan", "village_express_coverage"} <= set(summary["kpi"]):
        figures["pareto"] = pareto_chart(summary, design, words)
    sensitivity = []
    path = folder / "sensitivity.csv"
    if path.is_file():
        indices = read_table(path, columns=("kpi", "factor"))
        if not ({"ST", "ST_conf"} <= set(indices) or {"mu_star", "mu_star_conf"} <= set(indices)):
            raise UsageError(
                f"{path}: needs the columns ST and ST_conf (Sobol) or mu_star and mu_star_conf "
                "(Morris); rewrite the folder"
            )
        for i, kpi in enumerate(indices["kpi"].astype(str).unique()):
            key = f"sensitivity_{i}"
            figures[key] = sensitivity_bars(indices, kpi, words)
            sensitivity.append({"key": key, "heading": words("sensitivity", kpi=words(kpi))})
    shown = design.head(_DESIGN_ROWS)
    context = {
        "kind": "sweep",
        "title": words("sweep_title", name=folder.name),
        "facts": words("variants", n=f"{len(design):,}"),
        "design_columns": [str(c) for c in shown.columns],
        "design_rows": [[_cell(v) for v in row] for row in shown.itertuples(index=False)],
        "sensitivity": sensitivity,
    }
    return context, figures


def _cell(value: object) -> str:
    """A design value as text (floats to 4 significant digits)."""
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.4g}"
    return str(value)
