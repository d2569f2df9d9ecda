"""A run folder as one Excel workbook: ``ruralsim export RUN_DIR --xlsx``.

Sheets: ``summary`` (the province and county KPIs: mean and 95% CI over the replications),
``kpis`` (every KPI row but the villages'), ``coverage`` (every unit, villages included, with
its name, whether it is covered and why not), ``facilities`` and ``vehicles`` (per vehicle: legs,
km and hours driven, from ``trips.parquet``). Village KPI rows are left out of ``kpis``: a
province holds more of them than a sheet has rows, and ``coverage`` has each village's verdict.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim._files import read_json_object, read_table, write_atomic
from sim.errors import UsageError

#: Rows a sheet can hold below its header (Excel's limit is 1,048,576 rows).
MAX_ROWS = 1_048_575


def run_tables(folder: Path, lang: str = "en") -> dict[str, pd.DataFrame]:
    """The sheets of a run folder's workbook, by name, in order; KPIs and reasons are also
    given in words of ``lang`` (``label`` and ``reason_label`` columns)."""
    from sim.labels import labels

    words = labels(lang)
    if not (folder / "manifest.json").is_file() or not (folder / "kpis.csv").is_file():
        raise UsageError(
            f"{folder}: not a ruralsim run folder (it needs manifest.json and kpis.csv, as "
            "written by `ruralsim run ... --out DIR`)"
        )
    read_json_object(folder / "manifest.json")
    summary = read_table(folder / "kpis_summary.csv", columns=("scope", "kpi"), dtype={"code": str})
    kpis = read_table(folder / "kpis.csv", columns=("scope", "kpi", "value"), dtype={"code": str})
    coverage = read_table(folder / "coverage.csv", columns=("level", "reason"), dtype={"code": str})
    sheets = {
        "summary": _labelled(summary[summary["scope"].isin(["province", "county"])], words),
        "kpis": _labelled(kpis[kpis["scope"] != "village"], words),
        "coverage": coverage.assign(
            reason_label=coverage["reason"].map(
                {r: words.reason(str(r)) for r in coverage["reason"].unique()}
            )
        ),
    }
    if (folder / "facilities.csv").is_file():
        sheets["facilities"] = read_table(folder / "facilities.csv", dtype={"code": str})
    if (folder / "trips.parquet").is_file():
        sheets["vehicles"] = vehicle_days(read_table(folder / "trips.parquet"))
    return sheets


def _labelled(table: pd.DataFrame, words) -> pd.DataFrame:
    """The table with a ``label`` column (the KPI in words) right after ``kpi``."""
    out = table.copy()
    at = list(out.columns).index("kpi") + 1
    out.insert(at, "label", out["kpi"].map({k: words(str(k)) for k in out["kpi"].unique()}))
    return out


def vehicle_days(trips: pd.DataFrame) -> pd.DataFrame:
    """Per replication and vehicle: its type, what it drives, legs, km and hours driven."""
    hours = (trips["arrive"] - trips["depart"]) / 60.0
    keys = ["replication", "county_code", "vehicle", "type", "kind"]
    out = (
        trips.assign(hours=hours)
        .groupby(keys, sort=True, observed=True)
        .agg(legs=("km", "size"), km=("km", "sum"), hours_driving=("hours", "sum"))
        .reset_index()
    )
    return out


def export_xlsx(folder: str | Path, out: str | Path | None = None, *, lang: str = "en") -> Path:
    """Write a run folder's tables as one Excel workbook; return its path.

    Parameters
    ----------
    folder
        A run folder (``ruralsim run ... --out DIR``).
    out
        The workbook to write (default ``DIR/results.xlsx``); written under a temporary name
        and renamed, so an earlier workbook is replaced only by a complete one.
    lang
        Language of the ``label`` (KPI) and ``reason_label`` columns: ``en`` or ``zh``.

    Raises
    ------
    UsageError
        If ``folder`` is not a run folder, a table is unreadable, or ``out`` cannot be written.
    """
    folder = Path(folder)
    path = Path(out) if out is not None else folder / "results.xlsx"
    if path.suffix.lower() != ".xlsx":
        raise UsageError(f"--out {path}: give a file name ending in .xlsx")
    sheets = run_tables(folder, lang)

    def write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
            for name, table in sheets.items():
                table.iloc[:MAX_ROWS].to_excel(xl, sheet_name=name, index=False)

    write_atomic(path, write)
    return path
