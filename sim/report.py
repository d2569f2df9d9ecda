"""``ruralsim report DIR``: figures and a one-page HTML summary of a run or a sweep folder.

For a run folder it redraws the county map and the lead-time histogram from the folder's own
tables (the world is rebuilt from ``scenario.resolved.yaml``, which is deterministic) and lists
the headline KPIs. For a sweep folder it draws the cost-coverage Pareto front and, for Sobol or
Morris sweeps, the sensitivity bars.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from sim._files import read_json_object, read_table, write_atomic
from sim.errors import UsageError
from sim.kpi import SUMMARY_KPIS

#: The page; jinja2 escapes every value (autoescape), so a tampered manifest or a scenario
#: name cannot inject markup. Tables are pandas' own escaped HTML, marked safe.
_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}
table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;
text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}</style>
</head><body><h1>{{ title }}</h1>
{% for s in sections %}{% if s.heading %}<h2>{{ s.heading }}</h2>
{% endif %}{% if s.text %}<p>{{ s.text }}</p>
{% endif %}{% if s.table is not none %}{{ s.table }}
{% endif %}{% if s.image %}<p><img src="figures/{{ s.image }}" alt="{{ s.alt }}"></p>
{% endif %}{% endfor %}</body></html>
"""

#: Columns each table must have for the report.
_SUMMARY_COLUMNS = ("scope", "kpi", "mean", "ci95_low", "ci95_high")


def write_report(folder: str | Path, *, cache_dir: Path | None = None) -> Path:
    """Write ``figures/*.png`` and ``report.html`` into a run or sweep folder; return the page.

    Raises
    ------
    UsageError
        If the folder is neither a run nor a sweep folder, a file in it is unreadable,
        truncated or malformed (the message names it), or the disk is full.
    """
    folder = Path(folder)
    if (folder / "manifest.json").is_file() and (folder / "kpis_summary.csv").is_file():
        title, sections = _run_report(folder, cache_dir)
    elif (folder / "summary.csv").is_file() and (folder / "design.csv").is_file():
        title, sections = _sweep_report(folder)
    else:
        raise UsageError(
            f"{folder}: neither a run folder (manifest.json, kpis_summary.csv) nor a sweep "
            "folder (summary.csv, design.csv)"
        )
    page = folder / "report.html"
    body = render_page(title, sections)
    write_atomic(page, lambda p: p.write_text(body, encoding="utf-8"))
    return page


def render_page(title: str, sections: list[dict[str, Any]]) -> str:
    """The HTML page: a title and sections (heading, text, table, image), every value escaped."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined)
    return env.from_string(_PAGE).render(title=title, sections=sections)


def _section(
    heading: str = "", text: str = "", table: pd.DataFrame | None = None, image: str = ""
) -> dict[str, Any]:
    from markupsafe import Markup

    html_table = None
    if table is not None:  # pandas escapes cell values (escape=True)
        html_table = Markup(
            table.to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0, na_rep="")
        )
    return {
        "heading": heading,
        "text": text,
        "table": html_table,
        "image": image,
        "alt": Path(image).stem,
    }


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{path.parent}: cannot create it ({exc.strerror})") from None
    fig.tight_layout()
    try:
        write_atomic(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    finally:
        plt.close(fig)
    return path.name


def _run_report(folder: Path, cache_dir: Path | None) -> tuple[str, list[dict[str, Any]]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.viz import plot_county_map, plot_lead_times

    meta = read_json_object(folder / "manifest.json")
    summary = read_table(folder / "kpis_summary.csv", columns=_SUMMARY_COLUMNS, dtype={"code": str})
    counties = meta.get("counties", [])
    scope = "county" if isinstance(counties, list) and len(counties) == 1 else "province"
    head = summary[(summary["scope"] == scope) & summary["kpi"].isin(SUMMARY_KPIS)]
    layers = meta.get("synthetic_layers", [])
    layers_text = ", ".join(map(str, layers)) if isinstance(layers, list) else str(layers)
    sections = [
        _section(
            text=f"{meta.get('region', '')}, {meta.get('replications')} replication(s), seed "
            f"{meta.get('seed')}; synthetic layers: {layers_text or 'none'}"
        ),
        _section("Headline KPIs", table=head[["kpi", "mean", "ci95_low", "ci95_high"]]),
    ]
    results = _results(folder, meta, cache_dir)
    coverage = read_table(
        folder / "coverage.csv",
        columns=("level", "covered", "code", "name", "reason", "stage"),
        dtype={"code": str},
    )
    fig, ax = plt.subplots(figsize=(8, 8))
    plot_county_map(results, coverage, ax=ax)
    sections.append(
        _section("Coverage map", image=_save(fig, folder / "figures" / "county_map.png"))
    )
    if meta.get("parcels_written", "all") == "all":
        fig, ax = plt.subplots(figsize=(8, 4))
        plot_lead_times(results, ax=ax)
        sections.append(
            _section("Lead times", image=_save(fig, folder / "figures" / "lead_times.png"))
        )
    elif (folder / "figures" / "lead_times.png").is_file():  # drawn by the run from all parcels
        sections.append(_section("Lead times", image="lead_times.png"))
    worst = coverage[(coverage["level"] == "village") & ~coverage["covered"].astype(bool)]
    cols = ["code", "name", "reason", "stage", "visits_per_week", "p95_lead_h", "why"]
    sections.append(
        _section(f"Villages not covered ({len(worst)})", table=worst.reindex(columns=cols).head(50))
    )
    return f"ruralsim run: {meta.get('scenario', folder.name)}", sections


def _results(folder: Path, meta: dict[str, Any], cache_dir: Path | None):
    """The run's results, rebuilt from the folder (the world from the resolved scenario)."""
    from sim.build import build
    from sim.engine import Results
    from sim.load import load_scenario

    scenario = load_scenario(folder / "scenario.resolved.yaml")
    # Runs that wrote a sample of the parcels, or none, keep the run's own lead-time chart.
    written = meta.get("parcels_written", "all")
    parcels = read_table(folder / "parcels.parquet") if written == "all" else pd.DataFrame()
    trips = read_table(folder / "trips.parquet")
    try:
        replications = int(meta.get("replications", 1))
        ends = {
            (int(e["replication"]), str(e["county_code"])): float(e["end_min"])
            for e in meta.get("run_end_min", [])
        }
    except (TypeError, ValueError, KeyError):
        raise UsageError(
            f"{folder / 'manifest.json'}: replications or run_end_min is malformed; "
            "rewrite the folder"
        ) from None
    return Results(
        world=build(scenario, cache_dir=cache_dir),
        parcels=parcels,
        trips=trips,
        replications=replications,
        ends=ends,
    )


def _sweep_report(folder: Path) -> tuple[str, list[dict[str, Any]]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.viz import plot_pareto, plot_sensitivity

    summary = read_table(
        folder / "summary.csv", columns=(*_SUMMARY_COLUMNS, "variant"), dtype={"code": str}
    )
    design = read_table(folder / "design.csv")
    sections = [
        _section(text=f"{len(design)} variants"),
        _section("Design", table=design.head(50)),
    ]
    kpis = set(summary["kpi"])
    if {"cost_per_parcel_yuan", "village_express_coverage"} <= kpis:
        fig, ax = plt.subplots(figsize=(7, 5))
        plot_pareto(summary, ax=ax)
        sections.append(
            _section("Cost and coverage", image=_save(fig, folder / "figures" / "pareto.png"))
        )
    if (folder / "sensitivity.csv").is_file():
        path = folder / "sensitivity.csv"
        indices = read_table(path, columns=("kpi", "factor"))
        if not ({"ST", "ST_conf"} <= set(indices) or {"mu_star", "mu_star_conf"} <= set(indices)):
            raise UsageError(
                f"{path}: needs the columns ST and ST_conf (Sobol) or mu_star and mu_star_conf "
                "(Morris); rewrite the folder"
            )
        for kpi in indices["kpi"].unique():
            fig, ax = plt.subplots(figsize=(7, 4))
            plot_sensitivity(indices, kpi, ax=ax)
            name = "sensitivity_" + re.sub(r"[^A-Za-z0-9_-]", "_", str(kpi)) + ".png"
            sections.append(
                _section(f"Sensitivity: {kpi}", image=_save(fig, folder / "figures" / name))
            )
    return f"ruralsim sweep: {folder.name}", sections
