"""``ruralsim report DIR``: figures and a one-page HTML summary of a run or a sweep folder.

For a run folder it redraws the county map and the lead-time histogram from the folder's own
tables (the world is rebuilt from ``scenario.resolved.yaml``, which is deterministic) and lists
the headline KPIs. For a sweep folder it draws the cost-coverage Pareto front and, for Sobol or
Morris sweeps, the sensitivity bars.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from sim.errors import UsageError
from sim.kpi import SUMMARY_KPIS


def write_report(folder: str | Path, *, cache_dir: Path | None = None) -> Path:
    """Write ``figures/*.png`` and ``report.html`` into a run or sweep folder; return the page."""
    folder = Path(folder)
    if (folder / "manifest.json").is_file() and (folder / "kpis_summary.csv").is_file():
        body = _run_report(folder, cache_dir)
    elif (folder / "summary.csv").is_file() and (folder / "design.csv").is_file():
        body = _sweep_report(folder)
    else:
        raise UsageError(
            f"{folder}: neither a run folder (manifest.json, kpis_summary.csv) nor a sweep "
            "folder (summary.csv, design.csv)"
        )
    page = folder / "report.html"
    page.write_text(body, encoding="utf-8")
    return page


def _page(title: str, sections: list[str]) -> str:
    style = (
        "body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;"
        "text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        + "".join(sections)
        + "</body></html>\n"
    )


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0, na_rep="")


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"<p><img src='figures/{path.name}' alt='{path.stem}'></p>"


def _run_report(folder: Path, cache_dir: Path | None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.build import build
    from sim.engine import Results
    from sim.scenario import load_scenario
    from sim.viz import plot_county_map, plot_lead_times

    meta = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    summary = pd.read_csv(folder / "kpis_summary.csv", dtype={"code": str})
    scope = "county" if len(meta.get("counties", [])) == 1 else "province"
    head = summary[(summary["scope"] == scope) & summary["kpi"].isin(SUMMARY_KPIS)]
    sections = [
        f"<p>{html.escape(str(meta.get('region', '')))}, {meta.get('replications')} "
        f"replication(s), seed {meta.get('seed')}; synthetic layers: "
        f"{html.escape(', '.join(meta.get('synthetic_layers', [])) or 'none')}</p>",
        "<h2>Headline KPIs</h2>",
        _table(head[["kpi", "mean", "ci95_low", "ci95_high"]]),
    ]
    scenario = load_scenario(folder / "scenario.resolved.yaml")
    results = Results(
        world=build(scenario, cache_dir=cache_dir),
        parcels=pd.read_parquet(folder / "parcels.parquet"),
        trips=pd.read_parquet(folder / "trips.parquet"),
        replications=int(meta.get("replications", 1)),
        ends={
            (int(e["replication"]), str(e["county_code"])): float(e["end_min"])
            for e in meta.get("run_end_min", [])
        },
    )
    coverage = pd.read_csv(folder / "coverage.csv", dtype={"code": str})
    fig, ax = plt.subplots(figsize=(8, 8))
    plot_county_map(results, coverage, ax=ax)
    sections += ["<h2>Coverage map</h2>", _save(fig, folder / "figures" / "county_map.png")]
    fig, ax = plt.subplots(figsize=(8, 4))
    plot_lead_times(results, ax=ax)
    sections += ["<h2>Lead times</h2>", _save(fig, folder / "figures" / "lead_times.png")]
    worst = coverage[(coverage["level"] == "village") & ~coverage["covered"].astype(bool)]
    sections += [
        f"<h2>Villages not covered ({len(worst)})</h2>",
        _table(
            worst[["code", "name", "reason", "stage", "visits_per_week", "p95_lead_h", "why"]].head(
                50
            )
        ),
    ]
    return _page(f"ruralsim run: {meta.get('scenario', folder.name)}", sections)


def _sweep_report(folder: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.viz import plot_pareto, plot_sensitivity

    summary = pd.read_csv(folder / "summary.csv", dtype={"code": str})
    design = pd.read_csv(folder / "design.csv")
    sections = [f"<p>{len(design)} variants</p>", "<h2>Design</h2>", _table(design.head(50))]
    kpis = set(summary["kpi"])
    if {"cost_per_parcel_yuan", "village_express_coverage"} <= kpis:
        fig, ax = plt.subplots(figsize=(7, 5))
        plot_pareto(summary, ax=ax)
        sections += ["<h2>Cost and coverage</h2>", _save(fig, folder / "figures" / "pareto.png")]
    if (folder / "sensitivity.csv").is_file():
        indices = pd.read_csv(folder / "sensitivity.csv")
        for kpi in indices["kpi"].unique():
            fig, ax = plt.subplots(figsize=(7, 4))
            plot_sensitivity(indices, kpi, ax=ax)
            name = f"sensitivity_{kpi}.png"
            sections += [
                f"<h2>Sensitivity: {html.escape(kpi)}</h2>",
                _save(fig, folder / "figures" / name),
            ]
    return _page(f"ruralsim sweep: {folder.name}", sections)
