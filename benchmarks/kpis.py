"""Time ``compute_kpis`` + ``coverage_table`` of two source trees, interleaved (not a test).

Usage::

    git worktree add --detach /tmp/kpi-base 5918620
    python benchmarks/kpis.py /tmp/kpi-base . [--cases linxian lvliang10] [--repeat 3]

Cases: ``linxian`` is scenarios/linxian_mountain.yaml (临县) for 30 days, ``lvliang10`` the
first 10 counties of prefecture 1411 for 10 days; both one replication, no warm-up, no
drain, 30 inbound parcels per village and day (as ``ruralsim benchmark``). The run is made
once and pickled; each timing is a fresh process of one tree that loads it and calls both
functions twice ("first" and "warm" call). Prints min and median per tree.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LVLIANG10 = [
    "141102", "141121", "141122", "141123", "141124",
    "141125", "141126", "141127", "141128", "141129",
]  # fmt: skip


def _results(case: str, cache: Path) -> object:
    """The run of a case, made once and pickled."""
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    import sim
    from sim._shipped import resolve_file
    from sim.scenario import scenario_from_dict

    path = resolve_file("linxian_mountain")  # the shipped one, in a checkout or a wheel
    data = sim.load_scenario(path).model_dump(mode="json")
    days = 30 if case == "linxian" else 10
    data.update(horizon_days=days, warmup_days=0, replications=1, drain_days=0)
    data["demand"]["inbound"].update(mode="flat", parcels_per_village_per_day=30.0)
    if case == "lvliang10":
        data["region"] = {"counties": LVLIANG10, "terrain": "mountain"}
    results = sim.run(sim.build(scenario_from_dict(data, source=path)))
    cache.write_bytes(pickle.dumps(results))
    return results


def _child(case: str, cache: Path) -> None:
    """Time both functions twice in this process and print JSON."""
    import sim

    results = _results(case, cache)
    out: dict = {"tree": sim.__file__, "parcels": len(results.parcels)}  # type: ignore[attr-defined]
    for call in ("first", "warm"):
        t0 = time.perf_counter()
        sim.compute_kpis(results)  # type: ignore[arg-type]
        t1 = time.perf_counter()
        sim.coverage_table(results)  # type: ignore[arg-type]
        out[call] = [t1 - t0, time.perf_counter() - t1]
    print(json.dumps(out))


def _run(tree: Path, case: str, cache: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, __file__, "--child", case, "--cache", str(cache)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse the arguments, then time each case old/new interleaved."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trees", nargs="*", type=Path)
    ap.add_argument("--cases", nargs="+", default=["linxian", "lvliang10"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child")
    ap.add_argument("--cache", type=Path)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.cache)
        return
    old, new = (t.resolve() for t in args.trees)
    for case in args.cases:
        cache = Path(tempfile.gettempdir()) / f"bench_kpis_{case}.pkl"
        _run(old, case, cache)  # makes the run once
        times: dict[str, list[dict]] = {"old": [], "new": []}
        for _ in range(args.repeat):
            for name, tree in (("old", old), ("new", new)):
                times[name].append(_run(tree, case, cache))
        print(f"{case}: {times['new'][0]['parcels']:,} parcels")
        for call in ("first", "warm"):
            for name, runs in times.items():
                for j, label in enumerate(("compute_kpis", "coverage_table", "both")):
                    v = [r[call][j] if j < 2 else sum(r[call]) for r in runs]
                    print(
                        f"  {call:5s} {name} {label:15s} min {min(v):.3f} s  "
                        f"median {statistics.median(v):.3f} s"
                    )


if __name__ == "__main__":
    main()
