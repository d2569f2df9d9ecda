"""Reach code that lives in a checkout of the repository, not in the installed package.

The seeded benchmark graphs are in the top-level ``benchmarks/`` folder, next to ``sim/``: a
source checkout (or an editable install) has it, a wheel does not. The installed ``ruralsim``
script does not put the repository on ``sys.path``, so the folder is found from ``sim`` itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

from sim.errors import UsageError

# Path(sim.__file__).parent.parent: the repository root in a checkout.
_ROOT = Path(__file__).resolve().parents[1]


def bench_graphs() -> ModuleType:
    """Import :mod:`benchmarks.graphs` from the checkout that holds this ``sim``.

    Returns
    -------
    types.ModuleType
        The module, with ``county_like_graph`` and ``pick_facilities``.

    Raises
    ------
    UsageError
        If ``sim`` is installed without a checkout (no ``benchmarks/`` folder beside it), or
        another ``benchmarks`` package comes first on ``sys.path``.
    """
    folder = _ROOT / "benchmarks"
    if not (folder / "graphs.py").is_file():
        raise UsageError(
            "ruralsim benchmark --matrices needs a checkout of the repository (the benchmarks/ "
            f"folder, looked for at {folder}); clone it and install it with `pip install -e .`"
        )
    if str(_ROOT) not in sys.path:
        sys.path.append(str(_ROOT))
    try:
        from benchmarks import graphs
    except ImportError:
        found = getattr(sys.modules.get("benchmarks"), "__file__", None)
    else:
        found = graphs.__file__
        if found and Path(found).resolve() == folder / "graphs.py":
            return graphs
    raise UsageError(
        f"ruralsim benchmark --matrices: another `benchmarks` package ({found}) hides this "
        f"checkout's {folder}; run it from the repository's root"
    )
