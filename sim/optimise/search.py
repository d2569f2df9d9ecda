"""The search: Optuna's ask/tell loop in fixed batches, with the simulation in the loop.

Why Optuna: a well-kept ask/tell optimiser with integer and categorical spaces, constraint
handling and seeded samplers, so a search is reproducible; scikit-optimize is unmaintained, and
a hand-written loop would re-do TPE. Why TPE with constraints (c-TPE) rather than NSGA-II: the
question is one objective under constraints ("the cheapest network that meets the target"),
and budgets are tens of candidates, fewer than NSGA-II's populations need; the Pareto front of
cost against coverage is read off the evaluated candidates afterwards. When the budget covers
the whole space, no sampler is needed: every candidate is simulated, in grid order.

Reproducibility: each round asks for ``batch`` candidates, simulates the new ones together and
tells every result in the order asked, so the proposals depend only on the seed and on earlier
results, never on the workers or on which run ended first. A rerun on the same folder replays
the same rounds: the sampler asks for the same candidates, whose runs are read back instead of
simulated, and the search continues where it stopped with the results an uninterrupted search
would have given. A candidate proposed again is told its earlier result and does not count
against the budget.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from sim.optimise.evaluate import Evaluation
from sim.optimise.spec import OptimiseFile, Target, all_candidates

#: Proposals asked per candidate of the budget before a search whose sampler keeps proposing
#: known candidates stops.
MAX_ASKS_PER_EVALUATION = 20

#: The violation told to the sampler for a target whose KPI is unknown (NaN).
_UNKNOWN = 1e12

#: Simulates distinct candidates: (candidates, first index, batch) -> their evaluations.
Simulate = Callable[[list[dict[str, Any]], int, int], list[Evaluation]]


def _key(candidate: dict[str, Any]) -> str:
    return json.dumps(candidate, sort_keys=True)


def violations(evaluation: Evaluation, targets: Sequence[Target]) -> list[float]:
    """How far each target's mean is from being met (<= 0: met), for the sampler."""
    return [t.violation(evaluation.mean(t.kpi)) for t in targets]


def feasible(evaluation: Evaluation, targets: Sequence[Target], level: float | None = None) -> bool:
    """Whether the means of a fully simulated candidate meet every target, and with a
    ``level``, each with at least that :func:`confidence`."""
    if evaluation.failed or any(v > 0 for v in violations(evaluation, targets)):
        return False
    return level is None or all(confidence(evaluation, t)[0] >= level for t in targets)


def confidence(evaluation: Evaluation, target: Target) -> tuple[float, int, int]:
    """How sure we are that the true mean meets a target, from the replications.

    Returns
    -------
    tuple of (float, int, int)
        The one-sided Student-t confidence that the mean meets the target (the level of the
        one-sided t-interval whose bound is exactly the target value: 0.5 when the mean is on
        the target; NaN with fewer than 2 replications), then the number of replications whose
        own value meets it, and the number of replications.
    """
    import numpy as np
    from scipy import stats

    x = np.asarray(evaluation.values.get(target.kpi, []), dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    meeting = sum(target.met(float(v)) for v in x)
    if n < 2:
        return math.nan, meeting, n
    margin = -target.violation(float(x.mean()))
    se = float(x.std(ddof=1)) / math.sqrt(n)
    if se == 0:
        return (1.0 if margin >= 0 else 0.0), meeting, n
    return float(stats.t.cdf(margin / se, n - 1)), meeting, n


def _sampler(spec: OptimiseFile) -> tuple[Any, str]:
    """A seeded Optuna sampler for the file, and its name for the manifest."""
    import optuna

    # Not a function of the budget, so that a search with a larger budget on the same folder
    # proposes the smaller one's candidates again (their runs are reused), then goes on.
    startup = max(spec.batch, spec.startup)
    sampler = optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=startup)
    return sampler, f"TPESampler(seed, n_startup_trials={startup}), constraints per trial"


def _ask(study: Any, spec: OptimiseFile) -> tuple[Any, dict[str, Any]]:
    """One proposal: the trial and its candidate (variables by the index of their value)."""
    trial = study.ask()
    candidate = {}
    for v in spec.variables:
        values = v.values()
        i = trial.suggest_categorical(v.path, list(range(len(values))))
        candidate[v.path] = values[i]
    return trial, candidate


def _tell(study: Any, trial: Any, evaluation: Evaluation, spec: OptimiseFile) -> None:
    import optuna

    objective = evaluation.mean(spec.objective)
    for i, v in enumerate(violations(evaluation, spec.targets())):
        trial.set_constraint(f"target{i}", min(v, _UNKNOWN))
    if evaluation.failed or math.isnan(objective):
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    else:
        study.tell(trial, objective)


def search(
    spec: OptimiseFile,
    simulate: Simulate,
    *,
    on_round: Callable[[list[Evaluation]], None] | None = None,
) -> tuple[list[Evaluation], str]:
    """Run (or replay and continue) the search; the evaluations in order, and the sampler.

    Parameters
    ----------
    spec
        The optimise file.
    simulate
        Simulates new distinct candidates (runs already in the folder are read back).
    on_round
        Called after each round with the evaluations so far.
    """
    if spec.space_size() <= spec.evaluations:
        return _every(spec, simulate, on_round), "every candidate (the budget covers the space)"
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler, name = _sampler(spec)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    known: dict[str, Evaluation] = {}
    budget = min(spec.evaluations, spec.space_size())
    asked = 0
    rnd = 0
    while len(known) < budget and asked < MAX_ASKS_PER_EVALUATION * spec.evaluations:
        n = min(spec.batch, budget - len(known))
        proposals = [_ask(study, spec) for _ in range(n)]
        asked += n
        new: dict[str, dict[str, Any]] = {}
        for _, c in proposals:
            if _key(c) not in known:
                new.setdefault(_key(c), c)
        for e in simulate(list(new.values()), len(known), rnd):
            known[_key(e.candidate)] = e
        for trial, c in proposals:
            _tell(study, trial, known[_key(c)], spec)
        rnd += 1
        if on_round is not None and new:
            on_round(list(known.values()))
    return list(known.values()), name


def _every(
    spec: OptimiseFile,
    simulate: Simulate,
    on_round: Callable[[list[Evaluation]], None] | None,
) -> list[Evaluation]:
    """Every candidate of the space, in grid order, in rounds of ``batch``."""
    done: list[Evaluation] = []
    todo = all_candidates(spec)
    for rnd, start in enumerate(range(0, len(todo), spec.batch)):
        done += simulate(todo[start : start + spec.batch], len(done), rnd)
        if on_round is not None:
            on_round(list(done))
    return done
