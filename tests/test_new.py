"""``ruralsim new COUNTY --out FILE``: a starting scenario whose network does not collapse."""

from __future__ import annotations

import sim
from sim.cli import main


def test_new_writes_a_commented_scenario_that_builds_without_shortfalls(tmp_path, capsys):
    out = tmp_path / "new folder" / "linyi.yaml"  # its folder is made
    assert main(["new", "140821", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: 临猗县 140821" in printed and "warning" not in printed
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# 临猗县 (140821)") and "14 townships, 284 village-level" in text
    sc = sim.load_scenario(out)
    world = sim.build(sc)
    assert not [w for w in world.warnings if "van-hours" in w or "fleet.county_centre" in w]
    short = sc.with_changes({"replications": 1, "horizon_days": 4, "warmup_days": 1})
    kpis = sim.compute_kpis(sim.run(sim.build(short)), scopes=["province"])
    value = kpis.set_index("kpi")["value"]
    assert value["lead_time_p95_h"] <= 48 and value["on_time_rate"] >= 0.95


def test_new_refuses_a_bad_code_and_an_existing_file(tmp_path, capsys):
    assert main(["new", "1408", "--out", str(tmp_path / "x.yaml")]) == 2
    assert "give a county code" in capsys.readouterr().err
    existing = tmp_path / "old.yaml"
    existing.write_text("keep me", encoding="utf-8")
    assert main(["new", "140821", "--out", str(existing)]) == 2
    assert "exists" in capsys.readouterr().err
    assert existing.read_text(encoding="utf-8") == "keep me"
