"""Tests of highway speeds and of putting speeds and travel times on a road graph."""

from __future__ import annotations

import math

import networkx as nx
import osmnx as ox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import GeodataError
from sim.geodata.speeds import (
    DEFAULT_HIGHWAY_SPEEDS_KMH,
    FALLBACK_SPEED_KMH,
    add_speeds,
    highway_speeds,
    main_highway_class,
    parse_maxspeed,
)


def _graph(edges: list[dict]) -> nx.MultiDiGraph:
    """A chain of edges 0->1->2... with the given attributes (length 1000 m by default)."""
    g = nx.MultiDiGraph(crs="epsg:4326")
    for i in range(len(edges) + 1):
        g.add_node(i, x=110.7 + i * 0.01, y=35.1)
    for i, attrs in enumerate(edges):
        g.add_edge(i, i + 1, **{"length": 1000.0, **attrs})
    return g


@pytest.mark.parametrize(
    ("value", "kmh"),
    [
        ("60", 60.0),
        ("60 km/h", 60.0),
        ("40kmh", 40.0),
        ("30 mph", 30 * 1.609344),
        ("10 knots", 18.52),
        ("50,5", 50.5),
        ("60|40", 50.0),
        ("60;40", 50.0),
        (["60", "40"], 50.0),
        (["60", None, "CN:urban"], 60.0),
        (80, 80.0),
        (72.5, 72.5),
    ],
)
def test_parse_maxspeed_reads_numbers_and_units(value, kmh):
    assert parse_maxspeed(value) == pytest.approx(kmh)


@pytest.mark.parametrize(
    "value", [None, float("nan"), "", "none", "signals", "CN:rural", "walk", "0", -5, [], True]
)
def test_parse_maxspeed_gives_none_without_a_usable_number(value):
    assert parse_maxspeed(value) is None


def test_main_highway_class_is_the_most_important_of_a_list():
    assert main_highway_class("residential") == "residential"
    assert main_highway_class(["residential", "tertiary"]) == "tertiary"
    assert main_highway_class(["busway", "unclassified"]) == "unclassified"
    assert main_highway_class(["busway", "raceway"]) == "busway"
    assert main_highway_class(None) is None
    assert main_highway_class([]) is None


def test_add_speeds_uses_maxspeed_then_class_then_fallback():
    g = _graph(
        [
            {"highway": "tertiary", "maxspeed": "60"},
            {"highway": "tertiary"},
            {"highway": ["residential", "unclassified"]},
            {"highway": "busway"},
            {},
            {"highway": "residential", "maxspeed": "signals"},
        ]
    )
    speeds = highway_speeds("plains")
    out = add_speeds(g, speeds, fallback_kmh=12.0)
    assert out is g
    got = [d["speed_kph"] for _, _, d in g.edges(data=True)]
    assert got == [60.0, speeds["tertiary"], speeds["unclassified"], 12.0, 12.0, 20.0]
    for _, _, d in g.edges(data=True):
        assert d["travel_time"] == pytest.approx(1000.0 / (d["speed_kph"] / 3.6))


def test_add_speeds_never_needs_a_maxspeed_unlike_osmnx():
    g = _graph([{"highway": "tertiary"}, {"highway": "residential"}])
    with pytest.raises(ValueError, match="maxspeed"):
        ox.routing.add_edge_speeds(g.copy())
    add_speeds(g, {})
    assert {d["speed_kph"] for _, _, d in g.edges(data=True)} == {FALLBACK_SPEED_KMH}


def test_add_speeds_does_not_impute_class_means_from_maxspeeds():
    g = _graph([{"highway": "busway", "maxspeed": "70"}, {"highway": "busway"}])
    add_speeds(g, DEFAULT_HIGHWAY_SPEEDS_KMH, fallback_kmh=25.0)
    assert [d["speed_kph"] for _, _, d in g.edges(data=True)] == [70.0, 25.0]
    ox.routing.add_edge_speeds(g, hwy_speeds=dict(DEFAULT_HIGHWAY_SPEEDS_KMH), fallback=25.0)
    assert [d["speed_kph"] for _, _, d in g.edges(data=True)] == [70.0, 70.0]  # osmnx imputes


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_add_speeds_rejects_speeds_that_are_not_positive(bad):
    with pytest.raises(GeodataError, match="residential"):
        add_speeds(_graph([{"highway": "residential"}]), {"residential": bad})
    with pytest.raises(GeodataError, match="fallback"):
        add_speeds(_graph([{"highway": "residential"}]), {}, fallback_kmh=bad)


def test_add_speeds_names_an_edge_without_length():
    g = _graph([{"highway": "residential"}])
    del g.edges[0, 1, 0]["length"]
    with pytest.raises(GeodataError, match=r"\(0, 1, 0\)"):
        add_speeds(g, {"residential": 20.0})


_HIGHWAYS = st.sampled_from([*DEFAULT_HIGHWAY_SPEEDS_KMH, "busway", "raceway"])
_EDGES = st.lists(
    st.fixed_dictionaries(
        {
            "highway": _HIGHWAYS,
            "length": st.floats(0, 50_000),
            "maxspeed": st.one_of(
                st.none(), st.integers(5, 130).map(str), st.sampled_from(["none", "CN:urban"])
            ),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(edges=_EDGES, fallback=st.floats(1, 100))
def test_add_speeds_agrees_with_osmnx_when_every_class_has_a_speed(edges, fallback):
    attrs = [{k: v for k, v in e.items() if v is not None} for e in edges]
    speeds = {cls: 7.0 + i for i, cls in enumerate([*DEFAULT_HIGHWAY_SPEEDS_KMH, "busway"])}
    ours = add_speeds(_graph(attrs), speeds, fallback_kmh=fallback)
    theirs = ox.routing.add_edge_travel_times(
        ox.routing.add_edge_speeds(
            _graph(attrs), hwy_speeds={**speeds, "raceway": fallback}, fallback=fallback
        )
    )
    for (_, _, a), (_, _, b) in zip(ours.edges(data=True), theirs.edges(data=True)):
        assert a["speed_kph"] == pytest.approx(b["speed_kph"])
        assert a["travel_time"] == pytest.approx(b["travel_time"])
        assert a["travel_time"] >= 0 and math.isfinite(a["travel_time"])
