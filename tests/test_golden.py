"""Golden regression: the tiny scenario's county KPIs stay what they were.

A change to the model, the synthetic network or the random streams moves these numbers. If
the change is intended, regenerate the file with
``RURALSIM_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and say why in the commit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

import sim

GOLDEN = Path(__file__).parent / "data" / "golden_tiny_county_kpis.csv"


def test_tiny_county_kpis_match_golden(tiny_world):
    kpis = sim.summarize(sim.compute_kpis(sim.run(tiny_world)))
    got = (
        kpis[kpis["scope"] == "county"][["kpi", "mean", "ci95_low", "ci95_high"]]
        .reset_index(drop=True)
        .round(6)
    )
    if os.environ.get("RURALSIM_UPDATE_GOLDEN"):
        got.to_csv(GOLDEN, index=False)
    want = pd.read_csv(GOLDEN)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-6, atol=1e-6)
