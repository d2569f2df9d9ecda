"""Reach the ``benchmarks`` package, which lives beside ``sim`` but is never imported by it.

The benchmarks (``ruralsim benchmark``) and their seeded graphs are the top-level
``benchmarks`` package next to ``sim/``: in a source checkout (or an editable install) and in
the wheel, which ships it as a second top-level package. The installed ``ruralsim`` script does
not put a checkout on ``sys.path``, so the folder is found from ``sim`` itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

from sim.errors import UsageError

# Path(sim.__file__).parent.parent: the repository root in a checkout.
_ROOT = Path(__file__).resolve().parents[1]


def benchmark_module(name: str, *, command: str = "ruralsim benchmark") -> ModuleType:
    """Import ``benchmarks.<name>`` from the checkout that holds this ``sim``.

    Returns
    -------
    types.ModuleType
        The module.

    Raises
    ------
    UsageError
        If ``sim`` is installed without a checkout (no ``benchmarks/`` folder beside it), or
        another ``benchmarks`` package comes first on ``sys.path``.
    """
    import importlib

    folder = _ROOT / "benchmarks"
    if not (folder / f"{name}.py").is_file():
        raise UsageError(
            f"{command} needs a checkout of the repository (the benchmarks/ folder, looked "
            f"for at {folder}); clone it and install it with `pip install -e .`"
        )
    if str(_ROOT) not in sys.path:
        sys.path.append(str(_ROOT))
    try:
        module = importlib.import_module(f"benchmarks.{name}")
    except ImportError:
        found = getattr(sys.modules.get("benchmarks"), "__file__", None)
    else:
        found = module.__file__
        if found and Path(found).resolve() == folder / f"{name}.py":
            return module
    raise UsageError(
        f"{command}: another `benchmarks` package ({found}) hides this checkout's {folder}; "
        "run it from the repository's root"
    )


def bench_graphs() -> ModuleType:
    """:mod:`benchmarks.graphs` (``county_like_graph``, ``pick_facilities``) from the checkout
    (see :func:`benchmark_module`)."""
    return benchmark_module("graphs", command="ruralsim benchmark --matrices")
