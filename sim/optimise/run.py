"""``run_optimise``: load the file, prepare the folder, search, and write the outputs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from sim.optimise.evaluate import Evaluation, Evaluator
from sim.optimise.outputs import write_outputs
from sim.optimise.search import search
from sim.optimise.spec import Problem, load_optimise


def count_runs(problem: Problem) -> tuple[int, int, int]:
    """The candidates a search simulates at most, the replications of each, and the runs."""
    spec = problem.spec
    n = min(spec.evaluations, spec.space_size())
    reps = int(spec.replications or problem.base.get("replications", 1))
    return n, reps, n * reps


def resume_key(problem: Problem) -> str:
    """What a search must share with an earlier one to resume its folder: everything but the
    budget (``evaluations``), since a larger budget replays the earlier candidates first."""
    import hashlib
    import json

    spec = problem.spec.model_dump(mode="json", exclude={"evaluations"})
    text = json.dumps([spec, problem.base], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _manifest(problem: Problem, sampler: str, started: float, counts: dict[str, int]) -> dict:
    from sim import __version__
    from sim.runfolder import git_describe

    spec = problem.spec
    return {
        "kind": "optimise",
        "optimise_file": str(problem.source),
        "base": spec.base,
        "base_seed": problem.base.get("seed"),
        "optimiser": f"optuna {_optuna_version()} {sampler}",
        "optimiser_seed": spec.seed,
        "batch": spec.batch,
        "budget": spec.evaluations,
        "replications": count_runs(problem)[1],
        "objective": spec.objective,
        "targets": spec.target,
        "runs_now": counts["done"],
        "runs_reused": counts["skipped"],
        "runs_failed": counts["failed"],
        "ruralsim_version": __version__,
        "git_describe": git_describe(),
        "wall_time_s": round(time.perf_counter() - started, 3),
    }


def _optuna_version() -> str:
    import optuna

    return str(optuna.__version__)


def run_optimise(
    path: str | Path,
    out: str | Path,
    *,
    backend: Literal["serial", "processes", "dask"] = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
    on_round: Callable[[list[Evaluation]], None] | None = None,
    note: Callable[[str], None] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run (or resume) a search; write the folder and say what was found.

    Parameters
    ----------
    path
        The optimise file.
    out
        The folder: new, empty, or an earlier search of the same problem to resume (the same
        file, or one that differs only in its budget); that of another problem is replaced
        only with ``overwrite``.
    backend, workers, scheduler
        Where the runs go, as for :func:`sim.sweep.run_sweep`; results do not depend on them.
    progress
        Called with the number of runs ended (or reused) each time some are.
    on_round
        Called after each round of proposals with the evaluations so far.
    note
        Receives notices (e.g. a truncated run file redone).

    Returns
    -------
    dict
        ``evaluations`` (list of :class:`Evaluation`), ``best`` (one of them, or None),
        ``counts`` (runs done now, reused, failed) and ``sampler``.
    """
    from sim._sweepdir import prepare_sweep_out, start_sweep_folder

    started = time.perf_counter()
    source = Path(path)
    shown = str(out)
    problem = load_optimise(source)
    key = resume_key(problem)
    folder = prepare_sweep_out(out, kind="optimise", source=source, overwrite=overwrite, key=key)
    start_sweep_folder(
        folder, shown=shown, sweep_file=source, kind="optimise", replace=overwrite, key=key
    )
    evaluator = Evaluator(
        problem, folder, backend, workers, scheduler, note=note, progress=progress
    )

    def simulate(cands: list[dict[str, Any]], first: int, rnd: int) -> list[Evaluation]:
        return evaluator.evaluate(cands, first=first, batch=rnd)

    evaluations, sampler = search(problem.spec, simulate, on_round=on_round)
    top = write_outputs(
        folder,
        problem.spec,
        evaluations,
        record=evaluator.record,
        manifest=_manifest(problem, sampler, started, evaluator.counts),
        source=source,
    )
    return {
        "evaluations": evaluations,
        "best": top,
        "counts": dict(evaluator.counts),
        "sampler": sampler,
    }
