"""ruralsim: a discrete-event simulator of rural e-commerce logistics in Shanxi province.

The pipeline is a few functions with immutable outputs::

    scenario = sim.load_scenario("scenarios/linyi_baseline.yaml")
    world = sim.build(scenario)          # geodata, road graph, matrices, routes
    results = sim.run(world)             # SimPy engine over columnar parcel arrays
    kpis = sim.compute_kpis(results)     # long table of KPIs per replication

``import sim`` is cheap: each public name is imported from its module on first use (PEP 562),
so ``ruralsim --help`` and ``ruralsim schema`` do not pay for pandas, geopandas or scipy.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from sim.errors import BuildError, GeodataError, ScenarioError, SimError, UsageError

if TYPE_CHECKING:
    from sim.build import build
    from sim.engine import Results, run
    from sim.kpi import SUMMARY_KPIS, compute_kpis, coverage_table, summarize
    from sim.load import load_scenario
    from sim.runfolder import RunTables, write_run
    from sim.scenario import Scenario, scenario_from_dict, scenario_json_schema
    from sim.site import Siting, site
    from sim.world import County, Vehicle, World

__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first access.
_LAZY = {
    "SUMMARY_KPIS": "sim.kpi",
    "County": "sim.world",
    "Results": "sim.engine",
    "RunTables": "sim.runfolder",
    "Scenario": "sim.scenario",
    "Siting": "sim.site",
    "Vehicle": "sim.world",
    "World": "sim.world",
    "build": "sim.build",
    "compute_kpis": "sim.kpi",
    "coverage_table": "sim.kpi",
    "load_scenario": "sim.load",
    "run": "sim.engine",
    "scenario_from_dict": "sim.scenario",
    "scenario_json_schema": "sim.scenario",
    "site": "sim.site",
    "summarize": "sim.kpi",
    "write_run": "sim.runfolder",
}

__all__ = [
    "SUMMARY_KPIS",
    "BuildError",
    "County",
    "GeodataError",
    "Results",
    "RunTables",
    "Scenario",
    "ScenarioError",
    "SimError",
    "Siting",
    "UsageError",
    "Vehicle",
    "World",
    "__version__",
    "build",
    "compute_kpis",
    "coverage_table",
    "load_scenario",
    "run",
    "scenario_from_dict",
    "scenario_json_schema",
    "site",
    "summarize",
    "write_run",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first access (PEP 562).

    Parameters
    ----------
    name
        The attribute asked for, e.g. ``"build"``.

    Returns
    -------
    Any
        The object, which is then cached in this module's namespace.

    Raises
    ------
    AttributeError
        If ``name`` is neither a public name nor a submodule.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names, loaded or not, with the module's other globals."""
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The ``sim`` package, whose public function ``build`` shares its name with a module.

    Once a submodule is loaded, the import system binds it on its package: loading
    ``sim.build`` (``from sim.build import ...``) would make ``sim.build`` the module. As with
    eager imports, the public function keeps the name; the module stays in ``sys.modules``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
