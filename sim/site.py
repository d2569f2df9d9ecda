"""Siting village points with spopt: which villages should get a service point, locker or outlet.

Three questions, each solved exactly (a MILP through PuLP's bundled CBC solver) on a county's
road-distance matrix between its villages, with every village a candidate site and its
expected inbound parcels per day (:attr:`sim.world.County.village_rate`) as its weight:

- ``cover`` (location set covering, LSCP): the fewest points so that every village is within
  ``radius_km`` of one.
- ``pmedian`` (p-median): ``count`` points minimising the parcel-weighted road distance from
  each village to its nearest point.
- ``mclp`` (maximal covering location): ``count`` points maximising the parcels of the villages
  within ``radius_km`` of a point.

Distances are the road km of the fastest paths (the shortest of the scenario's vehicle types,
as for :attr:`~sim.world.County.village_township_km`), from the village to the point. The answer
is written as a scenario overlay (:func:`overlay_yaml`) that ``ruralsim run --overlay`` applies;
the simulation then says what the sited network achieves.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from sim.errors import BuildError, UsageError

if TYPE_CHECKING:
    from sim.world import County, World

Question = Literal["cover", "pmedian", "mclp"]
QUESTIONS: tuple[Question, ...] = ("cover", "pmedian", "mclp")
#: Kinds a sited point may be (``door`` is no point).
SITE_KINDS = ("service_point", "partner_outlet", "locker")
_MODEL_NAMES = {"cover": "LSCP", "pmedian": "P-Median", "mclp": "MCLP"}
_OBJECTIVES = {
    "cover": "points",
    "pmedian": "parcel-km per day to the nearest point",
    "mclp": "parcels per day within the radius",
}


@dataclass(frozen=True)
class Siting:
    """The answer to a siting question in one county.

    Attributes
    ----------
    county_code, county_name
        The county.
    question
        ``cover``, ``pmedian`` or ``mclp``.
    radius_km
        The service radius (for ``pmedian``, only the radius the shares are reported at).
    count
        Points asked for (``pmedian``, ``mclp``), or the most allowed (``cover``), or None.
    village_codes
        Codes of the villages that get a point, sorted.
    objective
        The model's objective value (see :data:`objective_name`).
    status
        The solver's word on the solution: ``optimal`` or ``feasible (time limit)``.
    solve_s
        Seconds to build and solve the model.
    before, after
        Share of villages and share of parcels within ``radius_km`` of a point, with the
        scenario's points and with the sited ones.
    mean_km_before, mean_km_after
        Parcel-weighted mean road km from a village to its nearest point.
    """

    county_code: str
    county_name: str
    question: Question
    radius_km: float
    count: int | None
    village_codes: tuple[str, ...]
    objective: float
    status: str
    solve_s: float
    before: tuple[float, float]
    after: tuple[float, float]
    mean_km_before: float
    mean_km_after: float

    @property
    def objective_name(self) -> str:
        """What the objective value counts."""
        return _OBJECTIVES[self.question]

    @property
    def model_name(self) -> str:
        """The location model solved: LSCP, P-Median or MCLP."""
        return _MODEL_NAMES[self.question]


def village_matrix(county: County) -> tuple[np.ndarray, np.ndarray]:
    """Road km between a county's villages and their expected parcels per day.

    Parameters
    ----------
    county
        A built county.

    Returns
    -------
    km : numpy.ndarray
        Shape (V, V): km from village ``i`` (row) to village ``j`` (column), the shortest of the
        vehicle types' fastest paths; ``inf`` where no road joins them.
    weight : numpy.ndarray
        Shape (V,): mean inbound parcels per day of each village.
    """
    km_any = np.minimum.reduce(list(county.km.values()))
    vf = np.asarray(county.village_facility(np.arange(county.n_villages)))
    return km_any[np.ix_(vf, vf)], np.asarray(county.village_rate, dtype=np.float64)


def reach(
    km: np.ndarray, weight: np.ndarray, points: np.ndarray, radius_km: float
) -> tuple[float, float, float]:
    """Share of villages and of parcels within ``radius_km`` of a point, and the mean distance.

    Parameters
    ----------
    km, weight
        From :func:`village_matrix`.
    points
        Boolean mask of the villages with a point.
    radius_km
        Service radius.

    Returns
    -------
    tuple of float
        (share of villages, share of parcels, parcel-weighted mean km to the nearest point;
        ``inf`` if some village with parcels has no point it can reach).
    """
    if not points.any():
        return 0.0, 0.0, float("inf")
    nearest = km[:, points].min(axis=1)
    near = nearest <= radius_km
    total = float(weight.sum())
    share_w = float(weight[near].sum() / total) if total > 0 else float(near.mean())
    mean_km = float(np.average(nearest, weights=weight)) if total > 0 else float(nearest.mean())
    return float(near.mean()), share_w, mean_km


def _check(question: Question, n: int, radius_km: float, count: int | None) -> None:
    if n == 0:
        raise UsageError("the county has no villages to site points in; name another --county")
    if question not in QUESTIONS:
        raise UsageError(f"--question: got {question!r}; valid: {', '.join(QUESTIONS)}")
    if not np.isfinite(radius_km) or radius_km <= 0:
        raise UsageError(f"--radius-km: got {radius_km}; valid: a number of km > 0")
    if question != "cover" and count is None:
        raise UsageError(f"--question {question} needs --count: the number of points to place")
    if count is not None and not 1 <= count <= n:
        raise UsageError(
            f"--count: got {count}; valid: a whole number from 1 to {n}, the villages of the county"
        )


def solve(
    km: np.ndarray,
    weight: np.ndarray,
    *,
    question: Question,
    radius_km: float,
    count: int | None = None,
    time_limit_s: float = 60.0,
) -> tuple[np.ndarray, float, str]:
    """Solve one siting question on a village matrix with spopt and CBC.

    Parameters
    ----------
    km, weight
        From :func:`village_matrix`; rows are villages served, columns candidate sites.
    question
        ``cover``, ``pmedian`` or ``mclp`` (see the module notes).
    radius_km
        Service radius (``cover``, ``mclp``).
    count
        Points to place (``pmedian``, ``mclp``).
    time_limit_s
        Time limit of the solver, seconds; past it the best solution found is kept.

    Returns
    -------
    chosen : numpy.ndarray
        Boolean mask of the villages that get a point.
    objective : float
        The objective value.
    status : str
        ``optimal`` or ``feasible (time limit)``.

    Raises
    ------
    BuildError
        If the solver finds no solution within the time limit.
    """
    import pulp
    from spopt.locate import LSCP, MCLP, PMedian

    cost = np.where(np.isfinite(km), km, 1e9)  # CBC cannot take inf; never within a radius
    model: LSCP | MCLP | PMedian
    with warnings.catch_warnings():
        # PuLP 3.x warns of its 4.0 API on every variable spopt makes, and of the bundled CBC.
        warnings.simplefilter("ignore", DeprecationWarning)
        if question == "cover":
            model = LSCP.from_cost_matrix(cost, service_radius=radius_km)
        elif question == "mclp":
            model = MCLP.from_cost_matrix(
                cost, weight, service_radius=radius_km, p_facilities=int(count or 0)
            )
        else:
            model = PMedian.from_cost_matrix(cost, weight, p_facilities=int(count or 0))
        solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s)
        try:
            model.solve(solver, results=False)
        except RuntimeError as exc:  # spopt: "Model is not solved: <status>"
            raise BuildError(
                f"{_MODEL_NAMES[question]}: no solution within {time_limit_s:g} s ({exc}); "
                "raise --time-limit-s or ask a smaller question (--county)"
            ) from None
    chosen = np.array([(v.value() or 0) > 0.5 for v in model.fac_vars], dtype=bool)
    objective = float(pulp.value(model.problem.objective) or 0.0)
    optimal = model.problem.sol_status == pulp.LpSolutionOptimal
    return chosen, objective, "optimal" if optimal else "feasible (time limit)"


def site_county(
    county: County,
    *,
    question: Question,
    radius_km: float,
    count: int | None = None,
    time_limit_s: float = 60.0,
) -> Siting:
    """Answer a siting question for one county (see :func:`solve`).

    Raises
    ------
    UsageError
        If the radius or count is not valid, or if covering every village within the radius
        needs more points than ``count`` allows.
    BuildError
        If the solver finds no solution within the time limit.
    """
    _check(question, county.n_villages, radius_km, count)
    km, weight = village_matrix(county)
    import spopt.locate  # noqa: F401  (loaded before the clock starts: about 2 s)

    start = time.perf_counter()
    chosen, objective, status = solve(
        km, weight, question=question, radius_km=radius_km, count=count, time_limit_s=time_limit_s
    )
    solve_s = time.perf_counter() - start
    where = f"{county.county_name} {county.county_code}"
    if question == "cover" and count is not None and chosen.sum() > count:
        raise UsageError(
            f"--radius-km {radius_km:g}: impossible with at most --count {count} points in "
            f"{where}: every village within {radius_km:g} km needs {int(chosen.sum())} points; "
            "give a larger radius or count, or ask mclp for the most parcels covered"
        )
    before = reach(km, weight, county.village_has_point, radius_km)
    after = reach(km, weight, chosen, radius_km)
    return Siting(
        county_code=county.county_code,
        county_name=county.county_name,
        question=question,
        radius_km=radius_km,
        count=count,
        village_codes=tuple(sorted(str(c) for c in county.village_codes[chosen])),
        objective=objective,
        status=status,
        solve_s=solve_s,
        before=before[:2],
        after=after[:2],
        mean_km_before=before[2],
        mean_km_after=after[2],
    )


def site(
    world: World,
    *,
    question: Question,
    radius_km: float,
    count: int | None = None,
    counties: list[str] | None = None,
    time_limit_s: float = 60.0,
) -> list[Siting]:
    """Answer a siting question in each county of a world (or the ones named).

    Parameters
    ----------
    world
        The built scenario.
    question, radius_km, count, time_limit_s
        As :func:`solve`; ``count`` is per county.
    counties
        County codes to site (default all of the world's).

    Returns
    -------
    list of Siting
        One per county sited, in the world's order.
    """
    known = [c.county_code for c in world.counties]
    for code in counties or []:
        if code not in known:
            raise UsageError(
                f"--county: {code!r} is not in the scenario; valid: {', '.join(known)}"
            )
    return [
        site_county(
            c,
            question=question,
            radius_km=radius_km,
            count=count,
            time_limit_s=time_limit_s,
        )
        for c in world.counties
        if counties is None or c.county_code in counties
    ]


def overlay(world: World, sitings: list[Siting], *, kind: str | None = None) -> dict[str, object]:
    """The scenario overlay that puts the village points where the sitings say.

    Counties not sited keep the points they have. With ``kind``, the sited points are of that
    kind (``facilities.village_points.kinds``); without it, they keep the scenario's kinds.

    Returns
    -------
    dict
        ``{"facilities": {"village_points": {"villages": [...], ("kinds": {...})}}}``.
    """
    if kind is not None and kind not in SITE_KINDS:
        raise UsageError(f"--kind: got {kind!r}; valid: {', '.join(SITE_KINDS)}")
    sited = {s.county_code: s for s in sitings}
    codes: list[str] = []
    for c in world.counties:
        if c.county_code in sited:
            codes.extend(sited[c.county_code].village_codes)
        else:
            codes.extend(str(v) for v in c.village_codes[c.village_has_point])
    points: dict[str, object] = {"villages": sorted(codes)}
    if kind is not None:
        points["kinds"] = {code: kind for s in sitings for code in s.village_codes}
    return {"facilities": {"village_points": points}}


def overlay_yaml(
    world: World, sitings: list[Siting], *, kind: str | None = None, source: str = ""
) -> str:
    """The overlay of :func:`overlay` as commented YAML, for ``ruralsim run --overlay``.

    The comments say the question, its parameters, and per county the objective value, the
    solver's status, the solve time and the reach before and after.
    """
    data = overlay(world, sitings, kind=kind)
    points = data["facilities"]["village_points"]  # type: ignore[index]
    names = {
        str(code): str(name)
        for c in world.counties
        for code, name in zip(c.village_codes, c.village_names)
    }
    first = sitings[0] if sitings else None
    out = [
        f"# Scenario overlay written by `ruralsim site`{f' from {source}' if source else ''}.",
        "# Apply it with: ruralsim run SCENARIO --overlay THIS_FILE --out DIR",
        "# Lists replace lists: facilities.village_points.villages below is the whole new list.",
    ]
    if first is not None:
        count = "" if first.count is None else f", count {first.count} per county"
        out.append(
            f"# question: {first.question} ({first.model_name}, spopt + CBC), radius "
            f"{first.radius_km:g} km{count}, weights: expected inbound parcels per village-day"
        )
    for s in sitings:
        out += [
            f"# {s.county_name} {s.county_code}: {len(s.village_codes)} points; objective "
            f"{s.objective:.6g} ({s.objective_name}); solver status {s.status}; "
            f"{s.solve_s:.1f} s",
            f"#   within {s.radius_km:g} km of a point: villages {s.before[0]:.1%} -> "
            f"{s.after[0]:.1%}, parcels {s.before[1]:.1%} -> {s.after[1]:.1%}; mean km to the "
            f"nearest point {s.mean_km_before:.2f} -> {s.mean_km_after:.2f}",
        ]
    out += ["facilities:", "  village_points:", "    villages:"]
    villages: list[str] = points["villages"]
    out += [f'      - "{code}"  # {names.get(code, "")}' for code in villages]
    if not villages:
        out[-1] = "    villages: []"
    if "kinds" in points:
        out.append("    kinds:")
        out += [f'      "{code}": {k}' for code, k in points["kinds"].items()]
    return "\n".join(out) + "\n"
