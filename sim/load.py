"""Load a scenario file: the YAML, the schema, then the codes and the size of the run.

This is the one function that turns a file into a :class:`~sim.scenario.Scenario`. It sits
above the schema (:mod:`sim.scenario`), the checks against the divisions (:mod:`sim.region`)
and the run-size limits (:mod:`sim.budget`), so each of those imports only what it checks and
the modules depend on each other one way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sim import _overlay, _yaml
from sim._changes import set_layers
from sim._yaml_errors import numbered
from sim.budget import check_run_size
from sim.errors import ScenarioError
from sim.region import check_references, region_villages
from sim.scenario import Scenario, scenario_from_dict


def load_scenario(
    path: str | Path, *, overlays: Sequence[str | Path] = (), sets: Sequence[str] = ()
) -> Scenario:
    """Load and validate a scenario YAML file, with overlays laid over it.

    Parameters
    ----------
    path
        The YAML file.
    overlays
        Partial scenario files (e.g. written by ``ruralsim site``) deep-merged into the
        scenario's mapping in order before validation: mappings merge key by key, lists and
        other values replace (:mod:`sim._overlay`).
    sets
        ``PATH=VALUE`` changes laid over last (``--set``: :mod:`sim._changes`).

    Returns
    -------
    Scenario
        The validated, frozen scenario.

    Raises
    ------
    ScenarioError
        If the file cannot be read or parsed, breaks the schema, names codes outside its
        region, or describes a run that cannot fit (calendar past 9999, parcels beyond the
        memory: :mod:`sim.budget`). The message names the file (the overlay, for a value
        that came from one), the line, the field path, the bad value and what is valid.
    """
    path = Path(path)
    data, lines = _yaml.load_with_lines(path)
    if overlays or sets:
        layers = [(Path(o), *_yaml.load_with_lines(Path(o))) for o in overlays]
        data, lines = _overlay.merge(data, lines, [*layers, *set_layers(sets)])
    scenario = scenario_from_dict(data, source=path, lines=lines)
    try:
        check_run_size(scenario, region_villages(check_references(scenario)))
    except ScenarioError as exc:
        problems = getattr(exc, "problems", None) or [
            (getattr(exc, "loc", ()), getattr(exc, "detail", str(exc)))
        ]
        rendered = [_at_line(path, lines, loc, detail) for loc, detail in problems]
        raise ScenarioError(numbered(str(path), rendered, len(rendered))) from None
    return scenario


def _at_line(path: Path, lines: _yaml.Lines, loc: tuple, detail: str) -> str:
    """``FILE:LINE: field.path: detail`` for a problem found after the schema (the file is the
    overlay that wrote the field, if one did; no line for a ``--set``)."""
    pos = lines.find(loc) if loc else None
    file = (lines.file_of(loc) if loc else None) or path
    where = f"{file}:{pos[0]}" if pos and pos[0] > 0 else str(file)
    return f"{where}: {'.'.join(map(str, loc))}: {detail}"
