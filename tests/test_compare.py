"""ruralsim compare: side by side, paired under common random numbers, clear errors."""

from __future__ import annotations

import pytest

from sim.cli import main
from sim.compare import compare_runs


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny_path):
    root = tmp_path_factory.mktemp("cmp")
    slow = root / "slow.yaml"
    slow.write_text(
        tiny_path.read_text(encoding="utf-8").replace(
            "sorting_capacity_per_hour: 2000", "sorting_capacity_per_hour: 150"
        ),
        encoding="utf-8",
    )
    a, b = root / "a", root / "b"
    for path, out in ((tiny_path, a), (slow, b)):
        argv = ["run", str(path), "--out", str(out), "--quiet", "--no-figures"]
        assert main([*argv, "--replications", "5"]) == 0
    return a, b


def test_compare_pairs_common_random_numbers(two_runs):
    a, b = two_runs
    t = compare_runs([a, b]).set_index(["kpi", "run"])
    row = t.loc[("lead_time_p95_h", str(b))]
    assert bool(row["paired"])
    assert row["diff"] > 0 and bool(row["significant"])
    # Same seed, same demand: parcels created are identical, the difference is not significant.
    created = t.loc[("parcels_created", str(b))]
    assert created["diff"] == 0 and not bool(created["significant"])


def test_compare_command_and_errors(two_runs, capsys, tmp_path):
    a, b = two_runs
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "paired t-test" in out and "lead_time_p95_h" in out and "*" in out
    assert main(["compare", str(a)]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main(["compare", str(a), str(tmp_path)]) == 2
    assert "not a ruralsim run folder" in capsys.readouterr().err
    assert main(["compare", str(a), str(b), "--scope", "carrier", "--code", "nope"]) == 2
    assert "--code nope" in capsys.readouterr().err
