"""The optimise file: base scenario, decision variables, target, objective and budget.

Validated like a sweep file: one message naming the file, the line, the field and what is
valid. Each variable's values are checked against the scenario schema when the file is loaded
(every choice, and both ends of a range), so a bad value never stops a search half-way.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.errors import ScenarioError

#: Largest number of candidates one optimise file may ask for.
MAX_EVALUATIONS = 2000
_TARGET = re.compile(r"\s*([A-Za-z0-9_]+)\s*(>=|<=)\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*")


def _kpi_names() -> tuple[str, ...]:
    from sim.kpi import REGION_KPIS

    return REGION_KPIS


def _check_kpi(name: str) -> str:
    known = _kpi_names()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown KPI {name!r}{hint}; valid: a province KPI such as "
            "village_express_coverage, on_time_rate, cost_per_parcel_yuan, "
            "subsidy_needed_yuan_per_day, vehicle_km, co2_kg"
        )
    return name


@dataclass(frozen=True)
class Target:
    """One constraint on a KPI's mean over the replications (province scope)."""

    kpi: str
    op: Literal[">=", "<="]
    value: float

    def violation(self, mean: float) -> float:
        """How far ``mean`` is from meeting the target (<= 0: met; NaN counts as not met)."""
        if math.isnan(mean):
            return math.inf
        return self.value - mean if self.op == ">=" else mean - self.value

    def met(self, x: float) -> bool:
        """Whether one value (a mean or a replication's value) meets the target."""
        return self.violation(x) <= 0

    def __str__(self) -> str:
        return f"{self.kpi} {self.op} {self.value:g}"


def parse_target(text: str) -> Target:
    """A target written ``name op value`` (op ``>=`` or ``<=``), its KPI name checked."""
    m = _TARGET.fullmatch(text)
    if m is None:
        raise ValueError(
            f"target {text!r} is not `KPI >= VALUE` or `KPI <= VALUE`, "
            "e.g. village_express_coverage >= 0.95"
        )
    op: Literal[">=", "<="] = ">=" if m[2] == ">=" else "<="
    return Target(_check_kpi(m[1]), op, float(m[3]))


class Variable(BaseModel):
    """One decision variable: a scenario field by its dotted path, and the values it may take."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    path: str = Field(description="dotted path of a scenario field, e.g. schedules.visits_per_week")
    low: int | None = Field(None, description="lowest whole number of an integer range")
    high: int | None = Field(None, description="highest whole number of an integer range")
    step: int = Field(1, gt=0, description="step of an integer range")
    choices: list[Any] | None = Field(
        None, min_length=1, description="the values to choose from, e.g. [3, 5, 7] or [none, all]"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Variable:
        rng = self.low is not None or self.high is not None
        if rng == (self.choices is not None) or (rng and (self.low is None or self.high is None)):
            raise ValueError(f"variable {self.path}: give either low and high, or choices")
        if self.low is not None and self.high is not None and self.high < self.low:
            raise ValueError(f"variable {self.path}: high {self.high} is below low {self.low}")
        return self

    def values(self) -> list[Any]:
        """Every value the variable may take, in order."""
        if self.choices is not None:
            return list(self.choices)
        assert self.low is not None and self.high is not None
        return list(range(self.low, self.high + 1, self.step))


class OptimiseFile(BaseModel):
    """An optimise file: what to change, what must hold, what to minimise, and the budget."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    base: str = Field(description="base scenario file, relative to the optimise file")
    variables: list[Variable] = Field(min_length=1, description="the decision variables")
    target: list[str] = Field(
        min_length=1,
        description="constraints on province KPIs (mean over replications), each "
        "`KPI >= VALUE` or `KPI <= VALUE`",
    )
    objective: str = Field(description="the province KPI to minimise, e.g. cost_per_parcel_yuan")
    evaluations: int = Field(
        30, gt=0, le=MAX_EVALUATIONS, description="budget: distinct candidates simulated"
    )
    batch: int = Field(
        4, gt=0, le=256, description="candidates proposed per round (fixed: not the workers)"
    )
    startup: int = Field(
        10,
        gt=0,
        le=MAX_EVALUATIONS,
        description="candidates proposed at random before TPE models the results (Optuna's "
        "default 10; at least one batch)",
    )
    replications: int | None = Field(
        None, gt=0, le=1000, description="replications per candidate (default: the base's)"
    )
    seed: int = Field(0, ge=0, description="seed of the optimiser (the base's seed drives runs)")
    confidence: float | None = Field(
        None,
        gt=0.5,
        lt=1,
        description="a candidate counts as meeting the targets only if, for each, the one-sided "
        "Student-t confidence from its replications that its mean meets it is at least this "
        "(e.g. 0.9; needs 2 or more replications); none: the means alone decide",
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="fixed changes to the base, by dotted path"
    )

    @field_validator("target")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_target(text)
        return value

    @field_validator("objective")
    @classmethod
    def _objective(cls, value: str) -> str:
        return _check_kpi(value)

    @model_validator(mode="after")
    def _distinct(self) -> OptimiseFile:
        paths = [v.path for v in self.variables]
        for p in paths:
            if paths.count(p) > 1:
                raise ValueError(f"variables: {p} is listed twice")
            if p in self.overrides:
                raise ValueError(f"variables: {p} is also in overrides; give it in one place")
        if self.confidence is not None and self.replications is not None and self.replications < 2:
            raise ValueError("confidence needs replications of 2 or more (a t confidence)")
        return self

    def targets(self) -> list[Target]:
        """The parsed targets, in file order."""
        return [parse_target(t) for t in self.target]

    def space_size(self) -> int:
        """Number of distinct candidates."""
        return math.prod(len(v.values()) for v in self.variables)


@dataclass(frozen=True)
class Problem:
    """A loaded optimise file: the file, its path and its base scenario (defaults filled in)."""

    spec: OptimiseFile
    source: Path
    base: dict[str, Any]

    def resolve(self, candidate: dict[str, Any]) -> dict[str, Any]:
        """The full, validated scenario data of a candidate (variable path -> value)."""
        from sim.scenario import scenario_from_dict
        from sim.sweep import set_path

        data = json.loads(json.dumps(self.base))
        for path, value in {**self.spec.overrides, **candidate}.items():
            set_path(data, path, value, self.source)
        if self.spec.replications is not None:
            data["replications"] = self.spec.replications
        shown = ", ".join(f"{k}={v}" for k, v in candidate.items())
        sc = scenario_from_dict(data, source=f"{self.source} (candidate {shown})")
        return sc.model_dump(mode="json")


def load_optimise(path: str | Path) -> Problem:
    """Load an optimise file and its base scenario, and check every variable's values.

    Raises
    ------
    ScenarioError
        Naming the file, the line and the field, when the file, its base or a value is invalid.
    """
    from sim import _yaml
    from sim.load import load_scenario
    from sim.sweep import base_path

    path = Path(path)
    spec, lines = _yaml.load_model(path, OptimiseFile, "optimise file")
    base = load_scenario(base_path(path, spec.base)).model_dump(mode="json")
    problem = Problem(spec, path, base)
    _check_values(problem, lines)
    return problem


def _check_values(problem: Problem, lines: Any) -> None:
    """Resolve the base with each variable at each choice or range end, the others at their
    first value, so that a value the schema refuses is reported now, naming the variable."""
    first = {v.path: v.values()[0] for v in problem.spec.variables}
    for i, v in enumerate(problem.spec.variables):
        values = v.values()
        for value in values if v.choices is not None else sorted({values[0], values[-1]}):
            candidate = {**first, v.path: value}
            try:
                problem.resolve(candidate)
            except ScenarioError as exc:
                shown = ", ".join(f"{k}={x}" for k, x in candidate.items())
                why = str(exc)
                for head in (f"{problem.source} (candidate {shown}): ", f"{problem.source}: "):
                    why = why.removeprefix(head)
                at = lines.find(("variables", i))
                where = f"{problem.source}:{at[0]}" if at else str(problem.source)
                raise ScenarioError(
                    f"{where}: variables: {v.path}: the value {value!r} makes an invalid "
                    f"scenario: {why}"
                ) from None


def all_candidates(spec: OptimiseFile) -> list[dict[str, Any]]:
    """Every candidate of the space (for small spaces), in grid order."""
    names = [v.path for v in spec.variables]
    return [dict(zip(names, c)) for c in itertools.product(*(v.values() for v in spec.variables))]
