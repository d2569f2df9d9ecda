"""``ruralsim new COUNTY_CODE --out FILE``: a commented starting scenario for a county."""

from __future__ import annotations

import argparse
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
        "--rate", type=float, default=30.0, help="inbound parcels per village and day (30)"
    )
    n.add_argument(
        "--terrain", choices=["plains", "hills", "mountain"], default="hills", help="(hills)"
    )


def new_command(args: argparse.Namespace) -> int:
    """Write the scenario, built and checked, and say what it holds."""
    from sim.geodata.divisions import unit
    from sim.new import new_scenario

    positive("--rate", args.rate)
    if args.out.exists():
        raise UsageError(f"--out {args.out}: the file exists; give a new file name")
    code = unit(args.county).code[:6]
    warnings = new_scenario(code, args.out, rate=args.rate, terrain=args.terrain)
    print(f"wrote {args.out}: {unit(code).name} {code}; check it with `ruralsim validate --build "
          f"{args.out}`, then `ruralsim run {args.out} --out runs/{code}`")  # fmt: skip
    for w in warnings:
        print(f"  warning: {w}")
    return 0
