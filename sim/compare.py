"""Compare the KPIs of run folders side by side: ``ruralsim compare RUN_DIR RUN_DIR ...``.

The first run is the reference. For every other run and KPI the table gives its mean with a
95% confidence interval, the difference from the reference, and whether that difference is
significant at the 5% level. Runs with the same seed and replications share their random
numbers (common random numbers), so replication r of one is paired with replication r of the
other and a paired t-test is used; otherwise Welch's two-sample t-test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim._files import read_json_object, read_table
from sim.errors import UsageError
from sim.kpi import SUMMARY_KPIS, format_value


def _load(folder: Path) -> tuple[dict, pd.DataFrame]:
    manifest, kpis = folder / "manifest.json", folder / "kpis.csv"
    if not manifest.is_file() or not kpis.is_file():
        raise UsageError(
            f"{folder}: not a ruralsim run folder (it needs manifest.json and kpis.csv, as "
            "written by `ruralsim run ... --out DIR`)"
        )
    meta = read_json_object(manifest)
    table = read_table(
        kpis, columns=("scope", "code", "kpi", "replication", "value"), dtype={"code": str}
    )
    return meta, table


def compare_runs(
    folders: Sequence[str | Path],
    *,
    scope: str = "province",
    code: str | None = None,
    kpis: Sequence[str] = SUMMARY_KPIS,
) -> pd.DataFrame:
    """Compare run folders; the first is the reference.

    Parameters
    ----------
    folders
        Two or more run folders.
    scope
        KPI scope to compare: province (the region as a whole, the default), county, township,
        village or carrier.
    code
        The unit (or carrier) within the scope; required unless the scope has one unit.
    kpis
        KPI names to compare.

    Returns
    -------
    pandas.DataFrame
        One row per (KPI, run): kpi, run, mean, ci95_low, ci95_high, diff, p_value, paired,
        significant.
    """
    if len(folders) < 2:
        raise UsageError("compare: give at least two run folders")
    loaded = [(Path(f), *_load(Path(f))) for f in folders]
    rows = []
    base_meta = loaded[0][1]
    base_values = _values(loaded[0], scope, code, kpis)
    for folder, meta, _ in loaded:
        values = _values((folder, meta, _), scope, code, kpis)
        paired = (
            meta.get("seed") == base_meta.get("seed")
            and meta.get("replications") == base_meta.get("replications")
            and folder != loaded[0][0]
        )
        for kpi in kpis:
            x, ref = values.get(kpi, np.array([])), base_values.get(kpi, np.array([]))
            mean, low, high = _mean_ci(x)
            diff, p = np.nan, np.nan
            if folder != loaded[0][0] and len(x) and len(ref):
                diff = float(np.mean(x) - np.mean(ref))
                p = _p_value(x, ref, paired=paired)
            rows.append(
                {
                    "kpi": kpi,
                    "run": str(folder),
                    "mean": mean,
                    "ci95_low": low,
                    "ci95_high": high,
                    "diff": diff,
                    "p_value": p,
                    "paired": paired,
                    "significant": bool(p < 0.05) if not math.isnan(p) else False,
                }
            )
    return pd.DataFrame(rows)


def _values(
    run: tuple[Path, dict, pd.DataFrame], scope: str, code: str | None, kpis: Sequence[str]
) -> dict[str, np.ndarray]:
    folder, _, table = run
    t = table[table["scope"] == scope]
    if t.empty:
        valid = sorted(table["scope"].unique())
        raise UsageError(f"--scope {scope}: not in {folder}; valid: {', '.join(valid)}")
    codes = sorted(t["code"].unique())
    if code is None:
        if len(codes) > 1:
            raise UsageError(
                f"--scope {scope} has {len(codes)} units in {folder}; choose one with --code "
                f"(e.g. {codes[0]})"
            )
        code = codes[0]
    t = t[t["code"] == code]
    if t.empty:
        raise UsageError(f"--code {code}: no {scope} with that code in {folder}")
    t = t[t["kpi"].isin(kpis)].sort_values("replication")
    return {str(k): g["value"].to_numpy(dtype=float) for k, g in t.groupby("kpi")}


def _mean_ci(x: np.ndarray) -> tuple[float, float, float]:
    if len(x) == 0:
        return np.nan, np.nan, np.nan
    mean = float(np.mean(x))
    if len(x) < 2:
        return mean, np.nan, np.nan
    half = float(stats.t.ppf(0.975, len(x) - 1) * np.std(x, ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def _p_value(x: np.ndarray, ref: np.ndarray, *, paired: bool) -> float:
    if len(x) < 2 or len(ref) < 2:
        return np.nan
    if paired and len(x) == len(ref):
        d = x - ref
        if np.allclose(d, d[0]):
            return 0.0 if d[0] != 0 else 1.0
        return float(stats.ttest_rel(x, ref).pvalue)
    if np.allclose(x, x[0]) and np.allclose(ref, ref[0]):
        return 0.0 if x[0] != ref[0] else 1.0
    return float(stats.ttest_ind(x, ref, equal_var=False).pvalue)


def format_comparison(table: pd.DataFrame) -> str:
    """The comparison as the text ``ruralsim compare`` prints."""
    runs = list(dict.fromkeys(table["run"]))
    lines = [f"reference: {runs[0]}"]
    for i, run in enumerate(runs[1:], 1):
        paired = bool(table.loc[table["run"] == run, "paired"].iloc[0])
        how = "paired t-test (common random numbers)" if paired else "Welch t-test"
        lines.append(f"run {i}: {run}  ({how})")
    head = f"{'KPI':<28}" + "".join(
        f"{'ref' if i == 0 else f'run {i}':>30}" for i in range(len(runs))
    )
    lines += ["", head]
    for kpi, g in table.groupby("kpi", sort=False):
        cells = []
        for run in runs:
            r = g[g["run"] == run].iloc[0]
            cell = format_value(r["mean"])
            if not math.isnan(r["ci95_low"]):
                cell += f" [{format_value(r['ci95_low'])}, {format_value(r['ci95_high'])}]"
            if run != runs[0] and not math.isnan(r["diff"]):
                cell += " *" if r["significant"] else "  "
            cells.append(f"{cell:>30}")
        lines.append(f"{kpi:<28}" + "".join(cells))
    lines += ["", "* difference from the reference significant at the 5% level"]
    return "\n".join(lines)
