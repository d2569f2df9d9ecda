"""``ruralsim optimise``: search for the cheapest configuration that meets a target."""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any


def add_optimise_parser(sub: Any) -> None:
    """The ``optimise`` subcommand and its options."""
    o = sub.add_parser(
        "optimise",
        help="search decision variables for the configuration that meets targets at least cost",
    )
    o.add_argument(
        "file",
        help="optimise YAML file (base, variables, target, objective), or the name of a "
        "shipped one, e.g. linxian_fleet",
    )
    o.add_argument(
        "--out",
        required=True,
        help="folder: new, empty, or that of an earlier search of this file, to resume",
    )
    o.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the folder of a search of another problem (without it, it is refused; "
        "the same file, or one with only a larger evaluations budget, resumes)",
    )
    o.add_argument(
        "--backend",
        choices=["serial", "processes", "dask"],
        help="serial, local processes (default), or dask (implied by --scheduler)",
    )
    o.add_argument("--workers", type=int, help="processes to use (default: the cores)")
    o.add_argument(
        "--scheduler", help="Dask distributed scheduler, tcp://HOST:PORT, to run on a cluster"
    )
    o.add_argument("--quiet", action="store_true", help="no progress bar")


def _shown(candidate: dict[str, Any]) -> str:
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in candidate.items())


def optimise_command(args: argparse.Namespace) -> int:
    """Count the runs, check the folder, then run or resume the search and print the best."""
    from tqdm import tqdm

    from sim._cli_sweep import _terminate_on_sigterm, backend_of
    from sim._sweepdir import prepare_sweep_out
    from sim.optimise import count_runs, load_optimise, run_optimise
    from sim.optimise.outputs import best
    from sim.optimise.run import resume_key

    backend = backend_of(args)
    start = time.perf_counter()
    problem = load_optimise(args.file)  # a bad file is reported first
    prepare_sweep_out(
        args.out,
        kind="optimise",
        source=args.file,
        overwrite=args.overwrite,
        key=resume_key(problem),
    )
    spec = problem.spec
    n, reps, runs = count_runs(problem)
    print(
        f"optimise {args.file}: up to {n} candidates x {reps} replications = {runs} runs, "
        f"in rounds of {spec.batch}; minimise {spec.objective} subject to "
        f"{'; '.join(spec.target)}",
        file=sys.stderr,
    )
    with (
        _terminate_on_sigterm(),
        tqdm(total=n, unit="cand", desc="optimise", disable=args.quiet or None) as bar,
    ):
        done = [0]

        def on_round(evaluations: list) -> None:
            bar.update(len(evaluations) - done[0])
            done[0] = len(evaluations)
            top = best(spec, evaluations)
            shown = (
                "none feasible yet"
                if top is None
                else (f"{top.mean(spec.objective):.4g} ({_shown(top.candidate)})")
            )
            bar.set_postfix_str(f"best {shown}", refresh=True)

        found = run_optimise(
            args.file,
            args.out,
            backend=backend,
            workers=args.workers,
            scheduler=args.scheduler,
            on_round=on_round,
            note=lambda msg: tqdm.write(f"ruralsim: {msg}", file=sys.stderr),
            overwrite=args.overwrite,
        )
    _report(args, found, spec, time.perf_counter() - start)
    return 0 if found["best"] is not None and found["counts"]["failed"] == 0 else 1


def _report(args: argparse.Namespace, found: dict[str, Any], spec: Any, seconds: float) -> None:
    c = found["counts"]
    top = found["best"]
    print(
        f"optimise {args.file}: {len(found['evaluations'])} candidates, {c['done']} runs now, "
        f"{c['skipped']} reused from {args.out}, {c['failed']} failed ({seconds:.1f} s)"
    )
    if top is None:
        print(f"no candidate met every target; see {args.out}/evaluations.csv")
        return
    from sim.optimise.outputs import confidence

    print(f"best: candidate {top.index}: {_shown(top.candidate)}")
    k = spec.objective
    print(f"  {k:<28} {top.mean(k):>10.4g} ± {top.half_width(k):.3g}  (minimised)")
    for t in spec.targets():
        conf, meeting, n = confidence(top, t)
        sure = "" if math.isnan(conf) else f", t confidence {conf:.3f}"  # NaN: 1 replication
        print(
            f"  {t.kpi:<28} {top.mean(t.kpi):>10.4g} ± {top.half_width(t.kpi):.3g}  "
            f"(target {t.op} {t.value:g}{sure}, {meeting}/{n} replications meet it)"
        )
    print(
        f"outputs: {args.out}/best.yaml, evaluations.csv, pareto.csv, summary.md; ± is the "
        "95% CI half-width, t confidence the one-sided Student-t confidence that the mean "
        "meets the target"
    )
