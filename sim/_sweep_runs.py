"""What a sweep computes for a variant: its world built once, its replications run on that
world, and only the KPI scopes the sweep keeps.

A run's result depends only on its resolved scenario and replication: the world is immutable
and each replication draws from its own random streams, so replications of a variant may share
one world and run in any order, on any worker.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import pandas as pd

from sim.build import build
from sim.engine import run
from sim.kpi import compute_kpis
from sim.scenario import scenario_from_dict
from sim.world import World

#: KPI scopes kept in sweep results (villages and townships would multiply the table).
KEPT_SCOPES = ("province", "county", "carrier")

#: A run's outcome: its KPI rows, or the error that stopped it.
Outcome = pd.DataFrame | BaseException


def kpis(results: Any, scopes: Collection[str] = KEPT_SCOPES) -> pd.DataFrame:
    """The KPIs of a run's results in the given scopes only.

    Parameters
    ----------
    results
        A run's :class:`sim.engine.Results`.
    scopes
        Scopes to keep (province, carrier, county, township, village).

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`sim.kpi.compute_kpis` whose scope is in ``scopes``, in its order.
    """
    # Township and village rows are most of the KPI work: compute_kpis skips them.
    return compute_kpis(results, scopes=tuple(scopes)).reset_index(drop=True)


def _build(scenario: dict[str, Any]) -> World:
    return build(scenario_from_dict(scenario))


def _run(world: World, replication: int) -> pd.DataFrame:
    return kpis(run(world, only=replication))


def variant_runs(
    scenario: dict[str, Any],
    replications: Sequence[int],
    *,
    errors: tuple[type[BaseException], ...] = (Exception,),
) -> Iterator[tuple[int, Outcome]]:
    """Build a variant's world once and run the given replications on it, one at a time.

    Parameters
    ----------
    scenario
        The variant's resolved scenario data.
    replications
        The replications to run, in this order.
    errors
        Errors recorded as a run's outcome; others propagate. An error while building the
        world is the outcome of every replication.

    Yields
    ------
    tuple of (int, pandas.DataFrame or BaseException)
        Each replication and its KPIs (kept scopes) or its error, as soon as it is done.
    """
    try:
        world = _build(scenario)
    except errors as exc:
        for r in replications:
            yield r, exc
        return
    for r in replications:
        try:
            outcome: Outcome = _run(world, r)
        except errors as exc:
            outcome = exc
        yield r, outcome


def variant_task(scenario: dict[str, Any], replications: list[int]) -> list[tuple[int, Outcome]]:
    """:func:`variant_runs` as one task (Dask): every replication's outcome, in order."""
    return list(variant_runs(scenario, replications))


@functools.lru_cache(maxsize=1)
def _cached_world(scenario_json: str) -> World:
    """The world of the last variant this process ran (its next runs are usually the same)."""
    return _build(json.loads(scenario_json))


def cached_run(scenario_json: str, replication: int) -> pd.DataFrame:
    """One run in a worker process, on the world of its variant built once per process.

    Parameters
    ----------
    scenario_json
        The variant's resolved scenario as JSON with sorted keys (also the cache key).
    replication
        The replication.

    Returns
    -------
    pandas.DataFrame
        Its KPIs in the kept scopes; errors propagate (a failed build is tried again by the
        next run of the variant, and fails the same way).
    """
    return _run(_cached_world(scenario_json), replication)
