"""Changing a scenario's fields without a YAML file: ``--set PATH=VALUE`` and ``with_changes``.

``--set schedules.visits_per_week=5`` on ``run`` and ``validate`` is an overlay of one field
(:mod:`sim._overlay`): its value is read as YAML by the scenario loader's rules (so ``08:30``
stays a clock time and ``[3, 5]`` is a list) and validated exactly as the file is, an error
naming the ``--set`` it came from. In Python, :meth:`sim.scenario.Scenario.with_changes` does
the same from a validated scenario.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import UsageError

if TYPE_CHECKING:
    from sim._yaml import Lines

_PATH_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_.")


def parse_set(text: str) -> tuple[tuple[str, ...], Any]:
    """``"a.b=value"`` -> (("a", "b"), the value read as YAML).

    Raises
    ------
    UsageError
        If there is no ``=``, the path is not a dotted field path, or the value is not YAML.
    """
    import yaml

    from sim._yaml import _ScenarioLoader

    path, eq, raw = text.partition("=")
    path = path.strip()
    if not eq or not path or not set(path.lower()) <= _PATH_CHARS or ".." in path:
        raise UsageError(
            f"--set {text}: give a dotted field path and a value, e.g. "
            "--set schedules.visits_per_week=5"
        )
    try:
        value = yaml.load(raw, Loader=_ScenarioLoader) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise UsageError(f"--set {text}: the value is not valid YAML ({exc})") from None
    return tuple(path.split(".")), value


def set_layers(sets: Sequence[str]) -> list[tuple[Path, Any, Lines]]:
    """Each ``--set`` as an overlay layer for :func:`sim._overlay.merge`: its mapping, and
    positions that make an error name the ``--set`` (as the overlay's file) and the field."""
    from sim._yaml import Lines

    layers = []
    for text in sets:
        keys, value = parse_set(text)
        mapping: Any = value
        for k in reversed(keys):
            mapping = {k: mapping}
        positions = {keys[:i]: (0, 0) for i in range(1, len(keys) + 1)}  # line 0: no file line
        layers.append((Path(f"--set {text}"), mapping, Lines(types.MappingProxyType(positions))))
    return layers
