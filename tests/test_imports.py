"""Imports: the modules of ``sim`` depend on each other one way, and ``import sim`` is cheap.

An import cycle here is a cycle in the graph whose nodes are the modules of ``sim`` and whose
edges are the ``import`` and ``from ... import`` statements of each module, found with
:mod:`ast` anywhere in the module: at the top and inside functions alike, since a
function-level import that closes a cycle (the schema importing the world builder to check
codes) hides the same two-way dependency. Left out are imports under ``if TYPE_CHECKING:``
(annotations only, never run) and the implicit import of a module's parent packages (importing
``sim.kpi.coverage`` runs ``sim/kpi/__init__.py`` first: that is how packages work, not a
dependency). ``from sim.kpi import survival`` is an edge to ``sim.kpi.survival`` when that is a
module, else to ``sim.kpi``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sim
from sim.cli import main
from sim.errors import UsageError

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "sim"

#: Packages that ``import sim`` (and ``import sim.cli``) must not load: each costs from a tenth
#: of a second to more than one; they are imported by the functions that use them.
HEAVY = (
    "dask",
    "distributed",
    "geopandas",
    "jinja2",
    "matplotlib",
    "networkx",
    "optuna",
    "osmnx",
    "pandas",
    "pulp",
    "pyarrow",
    "scipy",
    "shapely",
    "simpy",
    "sklearn",
    "spopt",
    "sqlalchemy",
    "tqdm",
)


def _module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, at any depth, except under ``if TYPE_CHECKING``."""
    hidden = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node)
        for inner in ast.walk(node)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in hidden
    ]


def _targets(name: str, path: Path, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in known}
    if node.level:  # relative: from .x import y
        base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    if source not in known:
        return set()
    return {f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names}


def import_graph() -> dict[str, set[str]]:
    """Map each module of ``sim`` to the modules of ``sim`` it imports (see the module doc)."""
    modules = _module_names()
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        deps = set().union(*(_targets(name, path, n, known) for n in _imports(tree)))
        graph[name] = {d for d in deps if d != name and not name.startswith(f"{d}.")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one cycle of the graph as a list of modules (first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_function_level_imports() -> None:
    graph = import_graph()
    assert "sim.build" in graph["sim._cli_run"]  # `from sim.build import build` in load_world
    assert "sim.kpi.survival" in graph["sim.kpi.coverage"]  # from sim.kpi import survival
    assert "sim.scenario" not in graph["sim.world"]  # under TYPE_CHECKING only


def test_no_import_cycle_among_sim_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_schema_imports_no_builder_or_geodata() -> None:
    graph = import_graph()
    schema = {"sim.scenario"} | {m for m in graph if m.startswith("sim._schema_")}
    for module in sorted(schema):
        assert graph[module] <= schema | {"sim.errors", "sim._yaml"}, (module, graph[module])
    assert graph["sim._yaml"] == {"sim.errors", "sim._yaml_errors"}
    assert graph["sim._yaml_errors"] == set()  # sim._yaml under TYPE_CHECKING only


def _loaded(code: str) -> set[str]:
    """The modules a fresh interpreter (on this tree's ``sim``) has loaded after ``code``."""
    show = "import sys\nprint(sys.modules['sim'].__file__)\nprint('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\n{show}"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout.split()
    assert Path(out[0]) == PACKAGE / "__init__.py"
    return set(out[1:])


@pytest.mark.parametrize("code", ["import sim", "import sim.cli", "from sim.cli import main"])
def test_import_sim_loads_no_heavy_package(code: str) -> None:
    loaded = _loaded(code)
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert not heavy, f"`{code}` imports {heavy[:10]}"
    assert "pydantic" not in loaded and "numpy" not in loaded


def test_schema_command_loads_no_heavy_package() -> None:
    loaded = _loaded(
        "import contextlib, io\nfrom sim.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    main(['schema'])"
    )
    heavy = sorted(m for m in loaded if m.split(".")[0] in (*HEAVY, "numpy"))
    assert not heavy, heavy[:10]


def test_validate_loads_no_heavy_package() -> None:
    """The default ``validate`` checks codes against the divisions without pandas and friends."""
    tiny = ROOT / "tests" / "data" / "tiny.yaml"
    loaded = _loaded(
        "import contextlib, io\nfrom sim.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    assert main(['validate', {str(tiny)!r}]) == 0\n"
        "assert 'valid scenario' in out.getvalue()"
    )
    assert {"sim.load", "sim.region", "sim.geodata.divisions"} <= loaded  # it did check
    banned = ("pandas", "scipy", "networkx", "geopandas", "shapely", "matplotlib", "pyarrow")
    heavy = sorted(m for m in loaded if m.split(".")[0] in (*HEAVY, *banned))
    assert not heavy, heavy[:10]


def test_every_public_name_loads_on_first_use() -> None:
    for name in sim.__all__:
        assert getattr(sim, name) is not None
    assert set(sim.__all__) <= set(dir(sim))
    from sim import Scenario, build, load_scenario

    assert Scenario.__module__ == "sim.scenario"
    assert load_scenario is sim.load_scenario
    assert build is sim.build
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = sim.no_such_name  # type: ignore[attr-defined]


def test_build_stays_the_function_after_its_module_loads() -> None:
    code = (
        "import sim, sys\nfrom sim.build import build_county\n"
        "assert callable(sim.build) and sim.build.__module__ == 'sim.build', sim.build\n"
        "assert sys.modules['sim.build'].build is sim.build\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )


def test_benchmark_graphs_come_from_the_checkout() -> None:
    from benchmarks.matrices import run as run_matrix_benchmark
    from sim._checkout import bench_graphs

    graphs = bench_graphs()
    assert Path(graphs.__file__).resolve() == (ROOT / "benchmarks" / "graphs.py").resolve()
    report = run_matrix_benchmark(n_nodes=2000, n_facilities=20, repeat=1)
    assert "20 facilities" in report and "finite pairs" in report


def test_benchmark_graphs_need_a_checkout(tmp_path, monkeypatch, capsys) -> None:
    from sim import _checkout

    monkeypatch.setattr(_checkout, "_ROOT", tmp_path)
    with pytest.raises(UsageError, match="needs a checkout of the repository"):
        _checkout.bench_graphs()
    assert main(["benchmark", "--matrices"]) == 2
    err = capsys.readouterr().err
    assert "ruralsim benchmark --matrices needs a checkout" in err
    assert str(tmp_path / "benchmarks") in err
