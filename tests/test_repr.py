"""World, County and Results print as one short line, not as their tables and graphs."""

from __future__ import annotations

import dataclasses

import pytest

import sim
from sim.world import count_of

#: What a line in a notebook or a terminal may take; the fields' own reprs run to megabytes.
MAX_REPR = 300


@pytest.fixture(scope="module")
def tiny_results(tiny_world) -> sim.Results:
    return sim.run(tiny_world, replications=1)


def test_county_repr_names_the_county_and_counts(tiny_county):
    text = repr(tiny_county)
    assert len(text) <= MAX_REPR
    assert text.startswith(f"County({tiny_county.county_name} {tiny_county.county_code}, ")
    assert f"{tiny_county.n_townships} townships" in text
    assert f"{tiny_county.n_villages} villages" in text
    assert f"{len(tiny_county.vehicles)} vehicles" in text
    assert "roads synthetic" in text


def test_world_repr_of_one_county(tiny_world, tiny_county):
    text = repr(tiny_world)
    assert len(text) <= MAX_REPR
    assert text.startswith(f"World({tiny_county.county_name} {tiny_county.county_code}: ")
    assert f"{tiny_county.n_villages} villages" in text
    assert f"{len(tiny_county.vehicles)} vehicles" in text
    assert "'tiny'" in text


def test_world_repr_stays_short_for_many_counties(tiny_world, tiny_county):
    many = dataclasses.replace(tiny_world, counties=(tiny_county,) * 117)
    text = repr(many)
    assert len(text) <= MAX_REPR
    assert text.startswith("World(117 counties: ")
    assert f"{117 * tiny_county.n_villages:,} villages" in text
    assert "roads 117 synthetic" in text


def test_results_repr_counts_rows_not_prints_them(tiny_results):
    text = repr(tiny_results)
    assert len(text) <= MAX_REPR
    assert text.startswith("Results(")
    assert "1 replication," in text
    assert f"{len(tiny_results.parcels):,} parcels" in text
    assert f"{len(tiny_results.trips):,} vehicle legs" in text
    assert "t_created" not in text and "County(" not in text


@pytest.mark.parametrize(
    ("n", "noun", "expected"),
    [(1, "county", "1 county"), (3, "county", "3 counties"), (12345, "parcel", "12,345 parcels")],
)
def test_count_of(n, noun, expected):
    assert count_of(n, noun) == expected
