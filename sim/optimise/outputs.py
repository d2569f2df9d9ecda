"""What an optimise folder holds: the evaluated candidates, the Pareto front, the best
configuration as a scenario, the confidence that it meets each target, and a manifest."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.optimise.evaluate import Evaluation
from sim.optimise.search import confidence as confidence  # re-exported
from sim.optimise.search import feasible
from sim.optimise.spec import OptimiseFile

#: KPIs every evaluations.csv reports, besides the objective and the targets.
REPORTED = (
    "village_express_coverage",
    "on_time_rate",
    "cost_per_parcel_yuan",
    "subsidy_needed_yuan_per_day",
    "vehicle_km",
    "co2_kg",
    "lead_time_p95_h",
)


def reported_kpis(spec: OptimiseFile) -> list[str]:
    """The objective, the targets' KPIs, the Pareto coverage KPI and :data:`REPORTED`."""
    names = [spec.objective, *(t.kpi for t in spec.targets()), coverage_kpi(spec), *REPORTED]
    return list(dict.fromkeys(names))


def coverage_kpi(spec: OptimiseFile) -> str:
    """The coverage side of the Pareto front: the first ``>=`` target, else village coverage."""
    return next((t.kpi for t in spec.targets() if t.op == ">="), "village_express_coverage")


def _cell(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) else json.dumps(value)


def evaluations_table(spec: OptimiseFile, evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """One row per candidate: variables, feasible, failed runs, KPI means and CI half-widths."""
    targets = spec.targets()
    rows = []
    for e in evaluations:
        row: dict[str, Any] = {"candidate": e.index, "batch": e.batch}
        row.update({p: _cell(v) for p, v in e.candidate.items()})
        row["feasible"] = feasible(e, targets, spec.confidence)
        row["failed_runs"] = e.failed
        for k in reported_kpis(spec):
            row[f"{k}_mean"] = e.mean(k)
            row[f"{k}_ci95"] = e.half_width(k)
        rows.append(row)
    return pd.DataFrame(rows)


def pareto_table(spec: OptimiseFile, table: pd.DataFrame) -> pd.DataFrame:
    """The candidates no other beats on both the objective (lower) and coverage (higher)."""
    x, y = f"{spec.objective}_mean", f"{coverage_kpi(spec)}_mean"
    ok = table[(table["failed_runs"] == 0) & table[x].notna() & table[y].notna()]
    keep = []
    for i, row in ok.iterrows():
        better = (ok[x] <= row[x]) & (ok[y] >= row[y]) & ((ok[x] < row[x]) | (ok[y] > row[y]))
        if not better.any():
            keep.append(i)
    cols = ["candidate", *(v.path for v in spec.variables), x, y, "feasible"]
    return ok.loc[keep, cols].sort_values([x, "candidate"], kind="stable").reset_index(drop=True)


def best(spec: OptimiseFile, evaluations: Sequence[Evaluation]) -> Evaluation | None:
    """The feasible candidate of the lowest objective mean (the first one on a tie)."""
    targets = spec.targets()
    ok = [e for e in evaluations if feasible(e, targets, spec.confidence)]
    return min(ok, key=lambda e: (e.mean(spec.objective), e.index)) if ok else None


def best_yaml(spec: OptimiseFile, e: Evaluation, source: Path) -> str:
    """The best candidate as a complete scenario YAML that ``ruralsim run`` accepts."""
    import yaml

    from sim.scenario import scenario_from_dict

    data = json.loads(json.dumps(e.scenario))
    data["name"] = f"{data['name'][:35]}_best"
    scenario_from_dict(data, source="best.yaml")  # it must load as it is written
    chosen = ", ".join(f"{k}: {_cell(v)}" for k, v in e.candidate.items())
    head = [
        f"# The best feasible configuration found by `ruralsim optimise {source}`:",
        f"# {chosen}",
        f"# candidate {e.index}, {spec.objective} {e.mean(spec.objective):.6g} (mean over "
        f"{len(e.values.get(spec.objective, []))} replications); the scenario it was simulated "
        "as (base, overrides and replications of the optimise file), renamed.",
    ]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(head) + "\n" + body


def summary_text(
    spec: OptimiseFile, evaluations: Sequence[Evaluation], top: Evaluation | None
) -> str:
    """The summary (markdown): budget used, the best configuration, its KPIs and confidence."""
    targets = spec.targets()
    n_ok = sum(feasible(e, targets, spec.confidence) for e in evaluations)
    lines = [
        "# ruralsim optimise",
        "",
        f"- objective: minimise {spec.objective} (province, mean over replications)",
        f"- targets: {'; '.join(str(t) for t in targets)}"
        + (
            f" (each with a t confidence of at least {spec.confidence:g})"
            if spec.confidence is not None
            else ""
        ),
        f"- candidates simulated: {len(evaluations)} of a budget of {spec.evaluations} "
        f"(space of {spec.space_size()}); {n_ok} meet every target",
    ]
    if top is None:
        lines += ["", "No candidate met every target."]
        return "\n".join(lines) + "\n"
    lines += ["", f"## Best: candidate {top.index}", ""]
    lines += [f"- {k}: {_cell(v)}" for k, v in top.candidate.items()]
    lines += ["", "| KPI | mean | 95% CI half-width |", "|---|---|---|"]
    for k in reported_kpis(spec):
        lines.append(f"| {k} | {top.mean(k):.6g} | {top.half_width(k):.3g} |")
    lines += [
        "",
        "Confidence that the best meets each target: one-sided Student-t over the "
        "replications (the level of the one-sided interval whose bound is the target), and "
        "the share of replications that meet it on their own.",
        "",
        "| target | mean | t confidence | replications meeting it |",
        "|---|---|---|---|",
    ]
    for t in targets:
        conf, meeting, n = confidence(top, t)
        shown = "n/a (1 replication)" if math.isnan(conf) else f"{conf:.3f}"
        lines.append(f"| {t} | {top.mean(t.kpi):.6g} | {shown} | {meeting}/{n} |")
    return "\n".join(lines) + "\n"


def write_outputs(
    out: Path,
    spec: OptimiseFile,
    evaluations: Sequence[Evaluation],
    *,
    record: list[dict[str, Any]],
    manifest: dict[str, Any],
    source: Path,
) -> Evaluation | None:
    """Write every table of the folder; return the best candidate (None if none is feasible)."""
    from sim._files import write_atomic

    def csv(name: str, frame: pd.DataFrame) -> None:
        write_atomic(out / name, lambda p: frame.to_csv(p, index=False, float_format="%.6g"))

    table = evaluations_table(spec, evaluations)
    csv("evaluations.csv", table)
    csv("pareto.csv", pareto_table(spec, table) if len(table) else table)
    csv("runs.csv", pd.DataFrame(record, columns=["candidate", "replication", "run_key", "status"]))
    top = best(spec, evaluations)
    text = summary_text(spec, evaluations, top)
    write_atomic(out / "summary.md", lambda p: p.write_text(text, encoding="utf-8"))
    if top is not None:
        yml = best_yaml(spec, top, source)
        write_atomic(out / "best.yaml", lambda p: p.write_text(yml, encoding="utf-8"))
    else:
        (out / "best.yaml").unlink(missing_ok=True)
    meta = {**manifest, "best_candidate": None if top is None else top.index}
    body = json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
    write_atomic(out / "manifest.json", lambda p: p.write_text(body, encoding="utf-8"))
    return top
