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
