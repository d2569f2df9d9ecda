"""Shared fixtures: the tiny scenario under tests/data and its world, built once."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    return DATA / "tiny.yaml"


@pytest.fixture(scope="session")
def tiny_scenario(tiny_path) -> sim.Scenario:
    return sim.load_scenario(tiny_path)


@pytest.fixture(scope="session")
def tiny_world(tiny_scenario) -> sim.World:
    return sim.build(tiny_scenario)


@pytest.fixture(scope="session")
def tiny_county(tiny_world) -> sim.County:
    return tiny_world.counties[0]


@pytest.fixture
def osm_tiny_path(tmp_path, tiny_path) -> Path:
    """The tiny scenario, required to run on cached OpenStreetMap roads."""
    path = tmp_path / "osm.yaml"
    text = tiny_path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('  county: "140821"\n', '  county: "140821"\n  road_network: osm\n'),
        encoding="utf-8",
    )
    return path
