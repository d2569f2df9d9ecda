"""Finding a network that meets the target: ``ruralsim optimise FILE --out DIR``.

An optimise file names a base scenario, decision variables (scenario fields by dotted path,
each an integer range or a list of choices), targets on province KPIs (means over the
replications), one KPI to minimise, a budget of candidates, a batch size, replications and a
seed. Optuna proposes candidates in rounds of ``batch``; each is simulated with common random
numbers on the sweep backends, its runs keyed and kept like a sweep's so a rerun resumes.

Modules: :mod:`~sim.optimise.spec` (the file), :mod:`~sim.optimise.evaluate` (simulating
candidates), :mod:`~sim.optimise.search` (the ask/tell loop), :mod:`~sim.optimise.outputs`
(the folder) and :mod:`~sim.optimise.run` (all of it).
"""

from __future__ import annotations

from sim.optimise.run import count_runs, run_optimise
from sim.optimise.spec import OptimiseFile, Problem, load_optimise

__all__ = ["OptimiseFile", "Problem", "count_runs", "load_optimise", "run_optimise"]
