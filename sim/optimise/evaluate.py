"""Evaluating candidates by simulation, on the sweep machinery.

A candidate is a resolved scenario; each of its replications is one run keyed by
:func:`sim.sweep.run_key` and written to ``DIR/runs/<key>.parquet`` as it ends, so a rerun
reuses it. Replication r of every candidate draws the same random numbers (the base's seed),
so candidates are compared under common random numbers, and the runs go to the sweep backends
(serial, local processes, Dask), whose results do not depend on the backend or the workers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.optimise.spec import Problem


@dataclass(frozen=True)
class Evaluation:
    """A simulated candidate: its variables, scenario and province KPIs per replication.

    Attributes
    ----------
    index
        Order in which the candidate was first simulated (0, 1, ...).
    batch
        The round of proposals that first asked for it.
    candidate
        Variable path -> value.
    scenario
        The resolved scenario it was simulated as.
    values
        Province KPI -> its value in each replication that ran (replication order).
    failed
        Replications whose run failed (no KPIs).
    """

    index: int
    batch: int
    candidate: dict[str, Any]
    scenario: dict[str, Any]
    values: dict[str, list[float]]
    failed: int

    def mean(self, kpi: str) -> float:
        """Mean of a KPI over the replications (NaN values left out, as in kpis_summary)."""
        x = self._finite(kpi)
        return float(np.mean(x)) if len(x) else math.nan

    def half_width(self, kpi: str) -> float:
        """Half-width of the 95% Student-t confidence interval of the mean (NaN for n < 2)."""
        from scipy import stats

        x = self._finite(kpi)
        if len(x) < 2:
            return math.nan
        return float(stats.t.ppf(0.975, len(x) - 1) * np.std(x, ddof=1) / math.sqrt(len(x)))

    def _finite(self, kpi: str) -> np.ndarray:
        x = np.asarray(self.values.get(kpi, []), dtype=float)
        return x[~np.isnan(x)]


@dataclass
class Evaluator:
    """Simulates candidates into ``out/runs`` on a backend, reusing runs found there.

    ``record`` lists every run asked for, with its status (reused, run, redone, failed), in
    the order asked; ``counts`` says how many runs were run now, reused and failed.
    """

    problem: Problem
    out: Path
    backend: str = "processes"
    workers: int | None = None
    scheduler: str | None = None
    note: Callable[[str], None] | None = None
    progress: Callable[[int], None] | None = None
    record: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"done": 0, "skipped": 0, "failed": 0})

    def evaluate(
        self, candidates: Sequence[dict[str, Any]], *, first: int, batch: int
    ) -> list[Evaluation]:
        """Simulate each candidate's replications (or reuse them); one evaluation each.

        Parameters
        ----------
        candidates
            Distinct candidates, each variable path -> value.
        first
            Index of the first candidate (the evaluations so far).
        batch
            The round that proposed them.
        """
        from sim import _executors
        from sim.sweep import group_tasks, plan_runs, reusable_runs

        scenarios = [self.problem.resolve(c) for c in candidates]
        todo = plan_runs(scenarios)
        status = reusable_runs(self.out / "runs", todo, self.note)
        pending = [t for t in todo if status[t[2]] != "reused"]
        fresh: dict[str, pd.DataFrame] = {}

        def finish(key: str, result: pd.DataFrame | BaseException) -> None:
            self._store(key, result)
            if isinstance(result, BaseException):
                status[key] = "failed"
            else:
                fresh[key] = result
            if self.progress is not None:
                self.progress(1)

        self.counts["skipped"] += len(todo) - len(pending)
        _executors.execute(
            group_tasks(pending),
            finish,
            backend=self.backend,
            workers=self.workers,
            scheduler=self.scheduler,
        )
        for i, r, key, _ in todo:
            self.record.append(
                {"candidate": first + i, "replication": r, "run_key": key, "status": status[key]}
            )
        runs_of: dict[int, list[tuple[int, str]]] = {}
        for i, r, key, _ in todo:
            runs_of.setdefault(i, []).append((r, key))
        return [
            self._evaluation(first + i, batch, c, sc, runs_of.get(i, []), fresh)
            for i, (c, sc) in enumerate(zip(candidates, scenarios))
        ]

    def _store(self, key: str, result: pd.DataFrame | BaseException) -> None:
        """Write a run's result (or its error) to ``runs/``."""
        from sim._files import write_atomic

        runs = self.out / "runs"
        err = runs / f"{key}.error.txt"
        if isinstance(result, BaseException):
            write_atomic(err, lambda p: p.write_text(repr(result) + "\n", encoding="utf-8"))
            self.counts["failed"] += 1
            return
        write_atomic(runs / f"{key}.parquet", lambda p: result.to_parquet(p, index=False))
        err.unlink(missing_ok=True)
        self.counts["done"] += 1

    def _evaluation(
        self,
        index: int,
        batch: int,
        candidate: dict[str, Any],
        scenario: dict[str, Any],
        runs: list[tuple[int, str]],
        fresh: dict[str, pd.DataFrame],
    ) -> Evaluation:
        """The evaluation of one candidate from its runs (fresh, or read from ``runs/``)."""
        values: dict[str, list[float]] = {}
        failed = 0
        for _, key in runs:
            frame = fresh.get(key)
            path = self.out / "runs" / f"{key}.parquet"
            if frame is None and path.exists():
                frame = pd.read_parquet(path)
            if frame is None:
                failed += 1
                continue
            prov = frame[frame["scope"] == "province"]
            for kpi, value in zip(prov["kpi"], prov["value"]):
                values.setdefault(str(kpi), []).append(float(value))
        return Evaluation(index, batch, dict(candidate), scenario, values, failed)
