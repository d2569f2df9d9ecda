"""``ruralsim export RUN_DIR --xlsx``: a run folder's tables as one Excel workbook."""

from __future__ import annotations

import argparse
import os
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
    e.add_argument(
        "--overwrite", action="store_true", help="replace an existing workbook (else refused)"
    )
    e.add_argument(
        "--lang",
        choices=("en", "zh"),
        default="en",
        help="language of the KPI and reason labels beside their codes (default en)",
    )


def export_command(args: argparse.Namespace) -> int:
    """Write the workbook and say where."""
    from sim.export import export_xlsx
    from sim.outdir import overwrite_refused

    target = args.out if args.out is not None else args.run / "results.xlsx"
    if os.path.lexists(target) and not args.overwrite:
        raise overwrite_refused(str(target), "the workbook exists")
    path = export_xlsx(args.run, args.out, lang=args.lang)
    print(f"wrote {path}")
    return 0
