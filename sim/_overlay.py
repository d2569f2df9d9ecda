"""Scenario overlays: partial scenario mappings deep-merged into a scenario before validation.

An overlay is a YAML file holding part of a scenario (e.g. ``facilities.village_points``
written by ``ruralsim site``). :func:`merge` lays it over the scenario's mapping: mappings merge
key by key, anything else (lists, numbers, text) replaces what was there, so a list of village
codes in an overlay is the whole new list. The positions of the merged values are kept, each
with the file it came from, so a validation error names the overlay file and its line when the
bad value came from the overlay.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim._yaml import Lines

Key = tuple[str, ...]


def _merge_into(
    base: dict[Any, Any], over: Mapping[Any, Any], path: Key, replaced: list[Key]
) -> dict[Any, Any]:
    """Deep-merge ``over`` into a copy of ``base``; record the paths whose values it replaced.

    Keys match by their text, so ``140821100010`` and ``"140821100010"`` are the same key.
    """
    out = dict(base)
    by_text = {str(k): k for k in base}
    for key, value in over.items():
        here = (*path, str(key))
        old_key = by_text.get(str(key))
        old = out.pop(old_key) if old_key is not None else None
        if isinstance(value, Mapping) and isinstance(old, dict):
            out[key] = _merge_into(old, value, here, replaced)
        else:
            out[key] = value
            replaced.append(here)
    return out


def _under(path: Key, roots: set[Key]) -> bool:
    return any(path[:i] in roots for i in range(1, len(path) + 1))


def merge(
    data: dict[Any, Any], lines: Lines, overlays: list[tuple[Path, Any, Lines]]
) -> tuple[dict[Any, Any], Lines]:
    """Lay overlays over a scenario's mapping, in order, keeping where each value was written.

    Parameters
    ----------
    data
        The scenario's parsed mapping.
    lines
        Its positions (:func:`sim._yaml.load_with_lines`).
    overlays
        ``(file, parsed mapping, positions)`` of each overlay; later ones win.

    Returns
    -------
    data
        The merged mapping (the inputs are not changed).
    lines
        Positions of the merged values; :meth:`~sim._yaml.Lines.file_of` names the overlay
        file of a value that came from one.
    """
    positions = dict(lines.positions)
    origin = dict(lines.origin)
    for path, over, over_lines in overlays:
        replaced: list[Key] = []
        data = _merge_into(data, over, (), replaced)
        roots = set(replaced)
        positions = {p: pos for p, pos in positions.items() if not _under(p, roots)}
        origin = {p: f for p, f in origin.items() if not _under(p, roots)}
        for p, pos in over_lines.positions.items():
            if p:
                positions[p] = pos
                origin[p] = str(path)
    return data, Lines(types.MappingProxyType(positions), types.MappingProxyType(origin))
