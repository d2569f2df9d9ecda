"""The README's scenario example is a valid scenario, and its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import sim
from sim.cli import _parser

README = Path(__file__).parent.parent / "README.md"


def test_scenario_example_in_readme_validates(tmp_path):
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(schema_version: 1\n.*?)```", text, re.S)
    assert block, "the README lost its scenario example"
    path = tmp_path / "example.yaml"
    path.write_text(block.group(1), encoding="utf-8")
    scenario = sim.load_scenario(path)
    assert scenario.demand.calendar.events[0].name == "double11"
    assert sim.build(scenario).counties[0].county_code == "140821"


def test_every_ruralsim_command_in_readme_parses():
    text = README.read_text(encoding="utf-8")
    commands = re.findall(r"^ruralsim ([^#\n]+)", text, re.M)
    commands += re.findall(r"`ruralsim ([a-z][^`]*)`", text)
    assert len(commands) > 10
    parser = _parser()
    for command in commands:
        argv = [a for a in command.split() if a not in ("...",)]
        argv = [a.replace("CODE", "140821").replace("SCENARIO", "x.yaml") for a in argv]
        if argv[-1].endswith("DIR") or "[" in command:
            continue
        parser.parse_args(argv)
