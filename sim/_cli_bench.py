"""``ruralsim benchmark``: its arguments, and the dispatch to the ``benchmarks`` package (a
top-level package beside ``sim``, in a checkout and in the wheel; never imported by ``sim``
itself)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim._checkout import benchmark_module
from sim._cli_args import positive
from sim._shipped import resolve_file


def add_benchmark_parser(sub, add_cache_dir) -> None:
    """Add the ``benchmark`` subcommand to the subparsers ``sub``."""
    b = sub.add_parser(
        "benchmark",
        help="time the pipeline against the per-parcel reference and a vectorised floor, or a "
        "whole province",
    )
    b.add_argument(
        "scenario",
        type=Path,
        nargs="?",
        help="scenario file or shipped scenario to time (default linxian_mountain; with "
        "--province shanxi_province, whose settings then apply to every county)",
    )
    b.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    b.add_argument(
        "--rate", type=float, default=30.0, help="inbound parcels per village per day (30)"
    )
    b.add_argument("--repeat", type=int, default=3, help="repetitions, interleaved (3)")
    b.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change one field of the scenario, as `ruralsim run --set` (repeatable)",
    )
    b.add_argument(
        "--all-options",
        action="store_true",
        help="turn on every optional mechanism (calendar, outbound with spoilage, lockers, "
        "cold chain, EV range, costs); the reference is skipped",
    )
    b.add_argument(
        "--reference-days",
        type=int,
        help="days of the per-parcel reference run (default: the same as the pipeline; 0 skips it)",
    )
    b.add_argument(
        "--province",
        action="store_true",
        help="instead: the streamed run of all 117 counties (`ruralsim run` with --workers, "
        "parcel table written) for --days at --rate",
    )
    b.add_argument("--workers", type=int, default=2, help="worker processes of --province (2)")
    b.add_argument(
        "--max-memory",
        type=float,
        metavar="GIB",
        help="--province: the run's --max-memory (default: no limit)",
    )
    b.add_argument(
        "--parcels",
        choices=("auto", "all", "sample", "none"),
        default="all",
        help="parcels written by --province (all)",
    )
    b.add_argument(
        "--sweep",
        type=int,
        metavar="N",
        help="instead: time an N-run sweep of the scenario serially and on 2 processes "
        "(interleaved --repeat times), once on 1 process and on a Dask LocalCluster, and the "
        "executor's overhead per run",
    )
    b.add_argument(
        "--matrices",
        action="store_true",
        help="instead: time travel matrices for 600 facilities on a 50,000-node road graph",
    )
    add_cache_dir(b)


def benchmark_command(args: argparse.Namespace) -> int:
    """Run the benchmark the arguments ask for and print its figures."""
    positive("--days", args.days)
    positive("--rate", args.rate, allow_zero=True)
    positive("--repeat", args.repeat)
    positive("--workers", args.workers)
    if args.scenario is None:
        args.scenario = resolve_file("shanxi_province" if args.province else "linxian_mountain")
    if args.province:
        bench = benchmark_module("province")
        print(
            bench.run_province_benchmark(
                args.scenario,
                days=args.days,
                rate=args.rate,
                workers=args.workers,
                parcels=args.parcels,
                cache_dir=args.cache_dir,
                max_memory=None if args.max_memory is None else args.max_memory * 2**30,
                sets=args.set,
            )
        )
        return 0
    if args.sweep is not None:
        positive("--sweep", args.sweep)
        bench = benchmark_module("sweep")
        print(bench.run_sweep_benchmark(args.scenario, n_runs=args.sweep, repeat=args.repeat))
        return 0
    if args.matrices:
        print(benchmark_module("matrices", command="ruralsim benchmark --matrices").run())
        return 0
    positive("--reference-days", args.reference_days, allow_zero=True)
    county = benchmark_module("county")
    timings = county.time_county(
        args.scenario,
        days=args.days,
        rate=args.rate,
        options=args.all_options,
        reference_days=args.days if args.reference_days is None else args.reference_days,
        repeat=args.repeat,
        sets=args.set,
    )
    print(county.format_county(timings))
    return 0
