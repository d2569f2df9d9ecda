"""``ruralsim sweep``: a parameter sweep from the command line."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Iterator
from typing import Literal

from sim._cli_args import positive
from sim.errors import UsageError

#: A sweep of more runs than this needs ``--yes``.
MAX_RUNS_UNASKED = 500
#: Schemes of Dask scheduler addresses accepted by ``--scheduler``.
_SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def backend_of(args: argparse.Namespace) -> Literal["serial", "processes", "dask"]:
    """The executor ``--backend``, ``--workers`` and ``--scheduler`` ask for (checked)."""
    positive("--workers", args.workers)
    if args.scheduler is not None:
        _check_scheduler(args.scheduler)
    backend: Literal["serial", "processes", "dask"] = args.backend or (
        "dask" if args.scheduler else "processes"
    )
    if backend == "dask" and not args.scheduler:
        raise UsageError("--backend dask needs --scheduler tcp://HOST:PORT")
    return backend


def sweep_command(args: argparse.Namespace) -> int:
    """``ruralsim sweep``: count the runs, check the folder, then run or resume the sweep."""
    from tqdm import tqdm

    from sim._sweepdir import prepare_sweep_out
    from sim.sweep import count_runs, load_sweep, resolve, run_sweep, variants

    backend = backend_of(args)
    sweep, base = load_sweep(args.sweep)  # a bad file is reported first
    prepare_sweep_out(args.out, source=args.sweep, overwrite=args.overwrite)
    n_variants, n_runs = count_runs(sweep, base)
    reps = n_runs // max(n_variants, 1)
    size = f"{n_variants:,} variants x {reps:,} replications = {n_runs:,} runs"
    if args.dry_run:
        print(f"sweep {args.sweep}: {size}", file=sys.stderr)
        first = resolve(sweep, base, variants(sweep)[0], args.sweep)
        print(_estimate(first, n_variants, n_runs, args.workers))
        return 0
    if n_runs > MAX_RUNS_UNASKED and not args.yes:
        raise UsageError(
            f"{args.sweep}: the {sweep.design} design has {size} (more than "
            f"{MAX_RUNS_UNASKED}); see the estimated time with --dry-run, then add --yes to run "
            "it, or lower samples or replications"
        )
    with (
        _terminate_on_sigterm(),
        tqdm(total=n_runs, unit="run", desc="sweep", disable=args.quiet or None) as bar,
    ):
        counts = run_sweep(
            args.sweep,
            args.out,
            backend=backend,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=bar.update,
            status=lambda n: bar.set_postfix(done=n["done"], failed=n["failed"], refresh=False),
            note=lambda msg: tqdm.write(f"ruralsim: {msg}", file=sys.stderr),
            overwrite=args.overwrite,
            planned=lambda done: tqdm.write(
                f"sweep {args.sweep}: {size} ({done:,} already done)", file=sys.stderr
            ),
        )
    print(
        f"sweep {args.sweep}: {counts['skipped']} runs reused from an earlier sweep (same code, "
        f"geodata and scenario), {counts['done']} run now, {counts['failed']} failed; results "
        f"in {args.out}/results.parquet and summary.csv, which run was reused in runs.csv"
    )
    return 0 if counts["failed"] == 0 else 1


def _check_scheduler(address: str) -> None:
    """Refuse a ``--scheduler`` that is not a Dask address, before anything runs."""
    from urllib.parse import urlsplit

    valid = "valid: a Dask scheduler address such as tcp://HOST:8786"
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError:
        raise UsageError(f"--scheduler {address!r}: not an address; {valid}") from None
    if parts.scheme not in _SCHEDULER_SCHEMES or not parts.hostname or " " in address:
        raise UsageError(f"--scheduler {address!r}: not an address; {valid}")
    if parts.scheme != "inproc" and port is None:
        raise UsageError(f"--scheduler {address!r}: no port; {valid}")


#: Seconds of one simulated village-day on one core (about 0.05 ms, measured on the tiny test
#: scenario, 284 villages); the estimate of ``sweep --dry-run`` scales it.
_SECONDS_PER_VILLAGE_DAY = 5e-5
#: Seconds to build one county's world (layout and travel matrices), once per variant.
_SECONDS_PER_COUNTY_BUILD = 0.1


def _estimate(first: dict, n_variants: int, n_runs: int, workers: int | None) -> str:
    """What ``sweep --dry-run`` prints: variants, runs and an estimated wall time.

    The time is a constant per simulated village-day (see :data:`_SECONDS_PER_VILLAGE_DAY`)
    times the villages and days (horizon and the longest drain) of the first variant, for each
    run, plus a constant per county built, for each variant (its replications share the
    world), divided among the workers; factors that change the size of the region or the
    horizon are not taken into account.
    """
    import os

    from sim.measure import drain_days
    from sim.region import region_counties, region_villages
    from sim.scenario import scenario_from_dict

    sc = scenario_from_dict(first)
    counties = region_counties(sc)
    villages = len(region_villages(counties))
    days = sc.horizon_days + drain_days(sc)
    per_build = len(counties) * _SECONDS_PER_COUNTY_BUILD
    per_run = days * villages * _SECONDS_PER_VILLAGE_DAY + per_build * n_variants / max(n_runs, 1)
    cores = workers or os.cpu_count() or 1
    total = per_run * n_runs / cores
    return (
        f"{n_variants:,} variants, {n_runs:,} runs; about {per_run:.1f} s per run "
        f"({len(counties)} counties built once per variant, {villages:,} villages, "
        f"{days} days), about "
        f"{_duration(total)} on {cores} processes (estimated from a constant per village-day)"
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@contextlib.contextmanager
def _terminate_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit(143), so the sweep stops its workers and cleans up."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        print("ruralsim: terminated", file=sys.stderr)
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
