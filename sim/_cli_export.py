"""``ruralsim export RUN_DIR --xlsx``: a run folder's tables as one Excel workbook."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_export_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``export`` command to the ``ruralsim`` sub-parsers."""
    e = sub.add_parser(
        "export",
        help="write a run folder's tables as one Excel workbook (summary, KPIs, coverage, "
        "facilities, vehicles)",
    )
    e.add_argument("run", type=Path, help="run folder (ruralsim run ... --out DIR)")
    e.add_argument(
        "--xlsx", action="store_true", required=True, help="write an .xlsx workbook (openpyxl)"
    )
    e.add_argument("--out", type=Path, help="the workbook (default RUN/results.xlsx)")


def export_command(args: argparse.Namespace) -> int:
    """Write the workbook and say where."""
    from sim.export import export_xlsx

    path = export_xlsx(args.run, args.out)
    print(f"wrote {path}")
    return 0
