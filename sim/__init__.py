"""ruralsim: a discrete-event simulator of rural e-commerce logistics in Shanxi province.

The pipeline is a few functions with immutable outputs::

    scenario = sim.load_scenario("scenarios/linyi_baseline.yaml")
    world = sim.build(scenario)          # geodata, road graph, matrices, routes
    results = sim.run(world)             # SimPy engine over columnar parcel arrays
    kpis = sim.compute_kpis(results)     # long table of KPIs per replication
"""

from __future__ import annotations

from sim.build import build
from sim.engine import Results, run
from sim.errors import BuildError, GeodataError, ScenarioError, SimError, UsageError
from sim.kpi import SUMMARY_KPIS, compute_kpis, coverage_table, summarize
from sim.runfolder import RunTables, write_run
from sim.scenario import Scenario, load_scenario, scenario_from_dict, scenario_json_schema
from sim.world import County, Vehicle, World

__version__ = "0.1.0"

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
    "summarize",
    "write_run",
]
