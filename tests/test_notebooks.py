"""The notebooks run from top to bottom on small settings, and are stored without outputs.

Each notebook reads ``RURALSIM_NOTEBOOK_SMALL``: set to 1 it runs fewer replications, a shorter
window or a prefecture instead of the province, so that each runs in well under a minute.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))

#: The notebooks that answer the planners' questions (issue 12), by file name.
QUESTIONS = {
    "linxian_village_coverage",
    "linyi_double11",
    "province_shortfalls",
    "optimise_linxian",
}


def test_the_question_notebooks_are_there():
    assert {p.stem for p in NOTEBOOKS} == QUESTIONS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean_and_reads_the_small_switch(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "strip outputs"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    if path.stem != "optimise_linxian":  # small by design: six evaluations
        assert "RURALSIM_NOTEBOOK_SMALL" in code
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 3, "say what each step asks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_small_mode(path, monkeypatch):
    monkeypatch.setenv("RURALSIM_NOTEBOOK_SMALL", "1")
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    elapsed = time.perf_counter() - started
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    texts = [
        o.get("text", "") + str(o.get("data", {}).get("text/markdown", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    ]
    assert any(texts), "the notebook prints its answers"
    print(f"{path.stem}: {elapsed:.1f} s")
