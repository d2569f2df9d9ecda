"""Sweep files: the schema, the base scenario, and the checks of every path and value.

Errors are those of scenario files (:func:`sim._yaml.format_validation_error`): the file, the
line, the field path, the bad value, what is valid and the closest valid name.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.errors import ScenarioError


class Factor(BaseModel):
    """One swept scenario field: a list of values (grid) or a range (Latin hypercube)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    path: str = Field(
        description="dotted path of a scenario field, e.g. fleet.township_default.van"
    )
    values: list[Any] | None = Field(None, min_length=1, description="values (grid design)")
    low: float | None = Field(None, description="lower bound (Latin hypercube)")
    high: float | None = Field(None, description="upper bound (Latin hypercube)")
    integer: bool = Field(False, description="round sampled values to whole numbers")
    labels: list[str] | None = Field(
        None,
        description="names of the values in design.csv and the results, one per value (for "
        "values that are lists or sections, e.g. a set of bus lines)",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Factor:
        if (self.values is None) == (self.low is None or self.high is None):
            raise ValueError(f"factor {self.path}: give either values or low and high")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"factor {self.path}: low must be below high")
        if self.labels is not None and len(self.labels) != len(self.values or []):
            raise ValueError(f"factor {self.path}: give one label per value")
        return self


class SweepFile(BaseModel):
    """A sweep: base scenario, factors, design and replications."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    base: str = Field(description="base scenario file, relative to the sweep file")
    design: Literal["grid", "lhs", "sobol", "morris"] = Field(
        "grid",
        description="full grid, Latin hypercube, or the Sobol (Saltelli) and Morris designs "
        "of SALib, whose sensitivity indices are computed at the end",
    )
    samples: int = Field(
        10,
        gt=0,
        le=10_000,
        description="lhs: variants; sobol: base samples N (N x (D + 2) variants); morris: "
        "trajectories (trajectories x (D + 1) variants)",
    )
    seed: int = Field(0, ge=0, description="seed of the sampled designs")
    outputs: list[str] = Field(
        default_factory=lambda: ["village_express_coverage", "cost_per_parcel_yuan"],
        min_length=1,
        description="province-scope KPIs whose sensitivity indices are computed",
    )
    replications: int | None = Field(
        None, gt=0, le=1000, description="replications per variant (default: the base's)"
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="fixed changes to the base, by dotted path"
    )
    factors: list[Factor] = Field(min_length=1, description="the swept fields")

    @model_validator(mode="after")
    def _design_fits(self) -> SweepFile:
        for f in self.factors:
            if self.design == "grid" and f.values is None:
                raise ValueError(f"factor {f.path}: a grid design needs values")
            if self.design != "grid" and f.values is not None:
                raise ValueError(f"factor {f.path}: a {self.design} design needs low and high")
        return self


def load_sweep(path: str | Path) -> tuple[SweepFile, dict[str, Any]]:
    """Load a sweep file and its base scenario (as plain data, defaults filled in).

    Every override and every factor value is laid over the base and validated now, so that a
    bad path or value is reported before any run, naming the sweep file's line.

    Raises
    ------
    ScenarioError
        Naming the file, the line, the field path, the bad value and what is valid.
    """
    from sim import _yaml
    from sim.load import load_scenario

    path = Path(path)
    sweep, lines = _yaml.load_model(path, SweepFile, "sweep file")
    base = load_scenario(base_path(path, sweep.base, lines)).model_dump(mode="json")
    _check_values(sweep, base, path, lines)
    return sweep, base


def _at(source: Path, lines: Any, loc: tuple[str | int, ...]) -> str:
    """``FILE:LINE`` of a field of the sweep file (the file alone when the line is unknown)."""
    pos = lines.find(loc) if lines is not None else None
    return f"{source}:{pos[0]}" if pos and pos[0] > 0 else str(source)


def _check_values(sweep: SweepFile, base: dict[str, Any], source: Path, lines: Any) -> None:
    """Resolve the base with the overrides, then with each factor at each value (or at both
    ends of its range), the others at their first; report the first invalid one at its line."""
    first = {f.path: _ends(f)[0] for f in sweep.factors}
    checks: list[tuple[tuple[str | int, ...], str, Any, dict[str, Any]]] = [
        (("overrides", k), k, v, {}) for k, v in sweep.overrides.items()
    ]
    for i, f in enumerate(sweep.factors):
        field = "values" if f.values is not None else "low"
        for value in _ends(f):
            checks.append((("factors", i, field), f.path, value, {**first, f.path: value}))
    for loc, field_path, value, variant in checks:
        try:
            resolve(sweep, base, variant, source)
        except ScenarioError as exc:
            why = str(exc)
            for head in (f"{source} (variant {variant}): ", f"{source}: "):
                why = why.removeprefix(head)
            if why.startswith(f"{field_path}: no field"):  # point at the path, not the value
                loc = (*loc[:2], "path") if loc[0] == "factors" else loc
            where = _at(source, lines, loc)
            shown = ".".join(map(str, loc))
            if why.startswith(f"{field_path}: "):  # the message names the field already
                raise ScenarioError(f"{where}: {shown}: {why}") from None
            raise ScenarioError(
                f"{where}: {shown}: {field_path} = {json.dumps(value, ensure_ascii=False)} makes "
                f"an invalid scenario: {why}"
            ) from None


def _ends(f: Factor) -> list[Any]:
    """The values of a factor to check: all of a grid's, or both ends of a range."""
    if f.values is not None:
        return list(f.values)
    ends = [f.low, f.high]
    return [round(float(x)) if f.integer else float(x) for x in ends if x is not None]


def base_path(source: Path, base: str, lines: Any = None) -> Path:
    """The base scenario of a sweep: a regular ``.yaml``/``.yml`` file, relative to the sweep.

    Nothing else is read, so a sweep file cannot make ruralsim open (and quote in an error)
    a file that is not a scenario, such as ``/etc/shadow`` or ``/proc/self/environ``.
    """
    target = source.parent / base
    where = _at(source, lines, ("base",))
    valid = "valid: a scenario file ending in .yaml or .yml, relative to the sweep file"
    if Path(base).suffix.lower() not in (".yaml", ".yml"):
        raise ScenarioError(f"{where}: base: {base!r} is not a scenario file; {valid}")
    if not target.exists():
        raise ScenarioError(f"{where}: base: {target} does not exist; {valid}")
    real = target.resolve()
    if not real.is_file() or real.suffix.lower() not in (".yaml", ".yml"):
        raise ScenarioError(f"{where}: base: {target} is not a regular file; {valid}")
    return target


def set_path(data: dict[str, Any], path: str, value: Any, source: Path) -> None:
    """Set the field at a dotted ``path`` of scenario data; an unknown path names ``source``,
    the valid names there and the closest one."""
    node: Any = data
    keys = path.split(".")
    for depth, k in enumerate(keys):
        where = ".".join(keys[:depth]) or "the scenario"
        if not isinstance(node, dict):
            raise ScenarioError(f"{source}: {path}: {where} is not a section (got {node!r})")
        if k not in node and depth < len(keys) - 1:
            close = difflib.get_close_matches(k, [str(x) for x in node], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            valid = ", ".join(map(str, node)) or "none"
            raise ScenarioError(
                f"{source}: {path}: no field {k!r} in {where}{hint}; valid: {valid}"
            )
        if depth < len(keys) - 1:
            node = node[k]
    node[keys[-1]] = value


def resolve(
    sweep: SweepFile, base: dict[str, Any], variant: dict[str, Any], source: Path
) -> dict[str, Any]:
    """The full scenario data of a variant, validated."""
    from sim.scenario import scenario_from_dict

    data = json.loads(json.dumps(base))
    for path, value in {**sweep.overrides, **variant}.items():
        set_path(data, path, value, source)
    if sweep.replications is not None:
        data["replications"] = sweep.replications
    return scenario_from_dict(data, source=f"{source} (variant {variant})").model_dump(mode="json")
