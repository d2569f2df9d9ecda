"""The ``ruralsim`` command line: a thin shell over the library.

Every user error ends in one message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sim.errors import SimError, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="ruralsim",
        description="Simulate rural e-commerce parcel logistics in Shanxi province.",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="run a scenario and write a run folder")
    r.add_argument("scenario", type=Path, help="scenario YAML file")
    r.add_argument("--out", type=Path, required=True, help="run folder to write")
    r.add_argument("--replications", type=int, help="override the scenario's replications")
    r.add_argument("--seed", type=int, help="override the scenario's seed")
    r.add_argument("--no-figures", action="store_true", help="skip figures/*.png")
    r.add_argument("--quiet", action="store_true", help="no progress bar and no KPI table")

    v = sub.add_parser("validate", help="check a scenario file against the schema")
    v.add_argument("scenario", type=Path, help="scenario YAML file")

    sub.add_parser("schema", help="print the JSON Schema of scenario files")

    g = sub.add_parser("geodata", help="inspect the shipped Shanxi geodata")
    gsub = g.add_subparsers(dest="geodata_command", required=True, parser_class=_Parser)
    show = gsub.add_parser("show", help="print a unit and its children")
    show.add_argument("code", help="statistical code, e.g. 140821 (临猗县) or 1411 or 14")

    b = sub.add_parser(
        "benchmark", help="time build, run and KPIs of a county and the per-parcel reference"
    )
    b.add_argument(
        "scenario",
        type=Path,
        nargs="?",
        default=Path("scenarios/linxian_mountain.yaml"),
        help="scenario to time (default scenarios/linxian_mountain.yaml)",
    )
    b.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    b.add_argument(
        "--rate", type=float, default=30.0, help="inbound parcels per village per day (30)"
    )
    b.add_argument(
        "--reference-days",
        type=int,
        help="days to run the per-parcel reference for the speed ratio (default: the same "
        "days as the engine, about a minute for 临县; 0 skips it)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        args = _parser().parse_args(argv)
        return _dispatch(args)
    except SimError as exc:
        print(f"ruralsim: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except BrokenPipeError:  # e.g. `ruralsim geodata show 14 | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("ruralsim: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "schema":
        from sim.scenario import scenario_json_schema

        print(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False))
        return 0
    if args.command == "geodata":
        from sim.geodata import describe

        print(describe(args.code))
        return 0
    if args.command == "benchmark":
        from sim.benchmark import format_benchmark, run_benchmark

        _positive("--days", args.days)
        _positive("--rate", args.rate, allow_zero=True)
        _positive("--reference-days", args.reference_days, allow_zero=True)
        ref_days = args.days if args.reference_days is None else args.reference_days
        print(
            format_benchmark(
                run_benchmark(
                    args.scenario, days=args.days, rate=args.rate, reference_days=ref_days
                )
            )
        )
        return 0
    raise AssertionError(args.command)


def _positive(flag: str, value: float | None, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        valid = "a number >= 0" if allow_zero else "a whole number >= 1"
        raise UsageError(f"{flag}: got {value}; valid: {valid}")


def _load(path: Path, *, replications: int | None = None, seed: int | None = None):
    from sim.build import build
    from sim.scenario import load_scenario, scenario_from_dict

    scenario = load_scenario(path)
    if replications is not None or seed is not None:
        data = scenario.model_dump(mode="json")
        if replications is not None:
            data["replications"] = replications
        if seed is not None:
            data["seed"] = seed
        scenario = scenario_from_dict(data, source=path)
    return scenario, build(scenario)


def _validate(args: argparse.Namespace) -> int:
    scenario, world = _load(args.scenario)
    cs = world.counties
    print(
        f"{args.scenario}: valid scenario {scenario.name!r} (schema v{scenario.schema_version}): "
        f"{world.label}, {sum(c.n_townships for c in cs)} townships, "
        f"{sum(c.n_villages for c in cs)} villages, {sum(len(c.shuttles) for c in cs)} "
        f"shuttles, {sum(len(c.village_vehicles) for c in cs)} village vehicles"
    )
    for w in world.warnings:
        print(f"  warning: {w}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sim.engine import run
    from sim.kpi import compute_kpis, coverage_table, summarize
    from sim.runfolder import RunTables, check_out_dir, write_run

    _positive("--replications", args.replications)
    _positive("--seed", args.seed, allow_zero=True)
    check_out_dir(args.out)
    start = time.perf_counter()
    scenario, world = _load(args.scenario, replications=args.replications, seed=args.seed)
    for w in world.warnings:
        print(f"warning: {w}", file=sys.stderr)
    total = scenario.horizon_days * scenario.replications * len(world.counties)
    with tqdm(
        total=total, unit="day", desc=scenario.name, disable=args.quiet or None, leave=False
    ) as bar:
        results = run(world, progress=bar.update)
    kpis = compute_kpis(results)
    tables = RunTables(kpis=kpis, summary=summarize(kpis), coverage=coverage_table(results))
    wall = time.perf_counter() - start
    out = write_run(args.out, results, tables, wall_time_s=wall, figures=not args.no_figures)
    if not args.quiet:
        print(_headline(tables, world))
    print(f"run folder: {out}  ({wall:.1f} s)")
    return 0


def _headline(tables, world) -> str:
    from sim.kpi import SUMMARY_KPIS

    s = tables.summary
    scope = "county" if len(world.counties) == 1 else "province"
    s = s[(s["scope"] == scope) & s["kpi"].isin(SUMMARY_KPIS)].set_index("kpi")
    synthetic = world.synthetic_layers()
    lines = [
        f"{world.scenario.name}: {world.label}, "
        f"{world.scenario.replications} replication(s), "
        f"days {world.scenario.warmup_days}-{world.scenario.horizon_days} measured",
        f"synthetic layers: {', '.join(synthetic)}",
        f"{'KPI':<26}{'mean':>12}   95% CI",
    ]
    for k in SUMMARY_KPIS:
        if k not in s.index:
            continue
        row = s.loc[k]
        ci = (
            "-"
            if math.isnan(row["ci95_low"])
            else f"[{_fmt(row['ci95_low'])}, {_fmt(row['ci95_high'])}]"
        )
        lines.append(f"{k:<26}{_fmt(row['mean']):>12}   {ci}")
    return "\n".join(lines)


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


if __name__ == "__main__":
    sys.exit(main())
