"""Fingerprints of what a run's results depend on beyond its scenario: the code and the geodata.

A sweep keys each run by the resolved scenario, the replication and these fingerprints, so a
resumed sweep reuses a result only if nothing it was computed from has changed.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """Hash of every ``.py`` file of the installed ``sim`` package (read once per process)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def geodata_hash(scenario: dict[str, Any], cache_dir: Path | None = None) -> str:
    """Hash of the geodata a resolved scenario is built from.

    Synthetic layers come from the layout and generator code, which :func:`code_hash` covers;
    a county built on cached OpenStreetMap data adds the names, sizes and modification times of
    its cache files, so a fetch or import that replaces them changes the hash.

    Parameters
    ----------
    scenario
        Resolved scenario data (``Scenario.model_dump(mode="json")``).
    cache_dir
        OpenStreetMap cache (default: :func:`sim.geodata.cache.default_cache_dir`).
    """
    from sim.geodata.cache import county_dir
    from sim.region import region_counties
    from sim.scenario import scenario_from_dict

    if scenario["region"].get("road_network") == "synthetic":
        return "synthetic"
    h = hashlib.sha256()
    for code in region_counties(scenario_from_dict(scenario)):
        folder = county_dir(code, cache_dir)
        if not (folder / "meta.json").is_file():
            continue  # synthetic roads for this county
        h.update(code.encode("utf-8") + b"\0")
        for f in sorted(folder.iterdir()):
            st = f.stat()
            h.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()[:16]
