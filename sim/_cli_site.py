"""``ruralsim site``: site village points with spopt and write a scenario overlay."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def add_site_parser(sub: argparse._SubParsersAction, add_cache_dir: Callable) -> None:  # type: ignore[type-arg]
    """Add the ``site`` command to the ``ruralsim`` sub-parsers."""
    s = sub.add_parser(
        "site",
        help="choose villages for service points, lockers or outlets (spopt) as a scenario overlay",
    )
    s.add_argument("scenario", type=Path, help="scenario YAML file")
    s.add_argument(
        "--question",
        required=True,
        choices=["cover", "pmedian", "mclp"],
        help="cover: fewest points with every village within --radius-km of one (LSCP); "
        "pmedian: --count points minimising parcel-weighted road km (P-Median); "
        "mclp: --count points maximising parcels within --radius-km (MCLP)",
    )
    s.add_argument(
        "--radius-km",
        type=float,
        help="service radius, road km (default: the scenario's kpi.reachable_km)",
    )
    s.add_argument(
        "--count",
        type=int,
        help="points per county (pmedian, mclp); for cover, the most allowed",
    )
    s.add_argument(
        "--kind",
        choices=["service_point", "locker", "partner_outlet"],
        help="kind of the sited points (default: the scenario's kinds)",
    )
    s.add_argument(
        "--county", action="append", help="county code to site (repeatable; default all)"
    )
    s.add_argument(
        "--time-limit-s",
        type=float,
        default=60.0,
        help="solver time limit per county, seconds (60); past it the best solution is kept",
    )
    s.add_argument("--out", type=Path, required=True, help="overlay YAML file to write")
    s.add_argument(
        "--overlay", type=Path, action="append", default=[], help="overlay to apply first"
    )
    add_cache_dir(s)


def site_command(args: argparse.Namespace, load: Callable) -> int:
    """Run ``ruralsim site``: build the world, solve, write the overlay, print a summary."""
    from sim import _files
    from sim._cli_args import positive
    from sim.site import overlay_yaml, site

    positive("--time-limit-s", args.time_limit_s)
    scenario, world = load(args.scenario, overlays=args.overlay, cache_dir=args.cache_dir)
    radius = scenario.kpi.reachable_km if args.radius_km is None else args.radius_km
    sitings = site(
        world,
        question=args.question,
        radius_km=radius,
        count=args.count,
        counties=args.county,
        time_limit_s=args.time_limit_s,
    )
    text = overlay_yaml(world, sitings, kind=args.kind, source=str(args.scenario))
    _files.write_atomic(args.out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    for s in sitings:
        print(
            f"{s.county_name} {s.county_code}: {s.model_name} sited {len(s.village_codes)} of "
            f"{world.county(s.county_code).n_villages} villages "
            f"({s.status}, objective {s.objective:.6g} {s.objective_name}, {s.solve_s:.1f} s)"
        )
        print(
            f"  within {s.radius_km:g} km of a point: villages {s.before[0]:.1%} -> "
            f"{s.after[0]:.1%}, parcels {s.before[1]:.1%} -> {s.after[1]:.1%} "
            f"(before = the scenario's points); mean km to the nearest point "
            f"{s.mean_km_before:.2f} -> {s.mean_km_after:.2f}"
        )
    print(f"overlay: {args.out}  (apply: ruralsim run {args.scenario} --overlay {args.out})")
    sys.stdout.flush()
    return 0
