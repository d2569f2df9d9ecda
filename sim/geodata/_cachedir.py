"""Where the OpenStreetMap cache keeps each county, read with the standard library only.

:mod:`sim.geodata.cache` reads and writes the cached graphs (with networkx, pandas and
shapely); these helpers only locate a county's folder and its ``meta.json``, so that
``ruralsim validate`` can tell whether the roads a scenario asks for are cached without
loading them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CACHE_ENV = "RURALSIM_CACHE"


def default_cache_dir() -> Path:
    """The cache folder (``$RURALSIM_CACHE``, ``$XDG_CACHE_HOME/ruralsim``, ``~/.cache/...``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ruralsim"


def county_dir(code: str, cache_dir: Path | None = None) -> Path:
    """The folder holding county ``code`` in the cache."""
    return (cache_dir or default_cache_dir()) / "osm" / code


def is_cached(code: str, cache_dir: Path | None = None) -> bool:
    """Whether county ``code`` is in the cache (its ``meta.json`` exists; nothing is read)."""
    return (county_dir(code, cache_dir) / "meta.json").is_file()


def cached_counties(cache_dir: Path | None = None) -> list[str]:
    """Codes of the counties present in the cache."""
    root = (cache_dir or default_cache_dir()) / "osm"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "meta.json").is_file())


def read_meta(code: str, cache_dir: Path | None = None) -> dict[str, Any] | None:
    """The ``meta.json`` of a cached county (without loading its graph), or None."""
    path = county_dir(code, cache_dir) / "meta.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def not_cached_message(code: str, name: str) -> str:
    """What to do when a scenario asks for OpenStreetMap roads (``osm``) that are not cached."""
    return (
        f"no OpenStreetMap data cached for county {code} {name}; run `ruralsim geodata "
        f"fetch {code}` (online) or `ruralsim geodata import FILE.osm.pbf --counties "
        f"{code}`, or set road_network: auto to fall back to the synthetic network"
    )


def plan_cache_dir(cache_dir: Path | None = None) -> Path:
    """The folder of cached route plans (``planning.method: optimise``; see :mod:`sim.vrp`)."""
    return (cache_dir or default_cache_dir()) / "plans"
