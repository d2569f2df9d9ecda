"""``ruralsim new COUNTY_CODE --out FILE``: a commented starting scenario for a county."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sim._cli_args import positive
from sim.errors import UsageError


def add_new_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``new`` command to the ``ruralsim`` sub-parsers."""
    n = sub.add_parser(
        "new",
        help="write a commented starting scenario for a county, its fleet sized from its "
        "villages and demand",
    )
    n.add_argument("county", help="12-digit or 6-digit county code, e.g. 141023 (襄汾县)")
    n.add_argument("--out", type=Path, required=True, help="scenario file to write (new)")
    n.add_argument(
        "--overwrite", action="store_true", help="replace an existing scenario file (else refused)"
    )
    n.add_argument(
        "--rate", type=float, default=30.0, help="inbound parcels per village and day (30)"
    )
    n.add_argument(
        "--terrain", choices=["plains", "hills", "mountain"], default="hills", help="(hills)"
    )


def new_command(args: argparse.Namespace) -> int:
    """Write the scenario, built and checked, and say what it holds."""
    from sim.geodata.divisions import unit
    from sim.new import new_scenario
    from sim.outdir import overwrite_refused

    positive("--rate", args.rate)
    if os.path.lexists(args.out) and not args.out.is_file():
        raise UsageError(f"--out {args.out}: exists and is not a file; give a new file name")
    if os.path.lexists(args.out) and not args.overwrite:
        raise overwrite_refused(str(args.out), "the scenario file exists")
    code = unit(args.county).code[:6]
    warnings = new_scenario(code, args.out, rate=args.rate, terrain=args.terrain)
    print(f"wrote {args.out}: {unit(code).name} {code}; check it with `ruralsim validate --build "
          f"{args.out}`, then `ruralsim run {args.out} --out runs/{code}`")  # fmt: skip
    for w in warnings:
        print(f"  warning: {w}")
    return 0
