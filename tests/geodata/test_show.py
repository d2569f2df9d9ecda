"""Tests of the text printed by ``ruralsim geodata show``."""

from __future__ import annotations

import unicodedata

import pytest

from sim.errors import GeodataError
from sim.geodata import children, describe


def _cells(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_county() -> None:
    text = describe("140821")
    assert "临猗县" in text
    assert "猗氏镇" in text
    assert "284" in text
    assert "运城市" in text
    assert "GeoNames" in text
    assert "synthetic" in text.lower()
    assert sum(line.startswith("140821") for line in text.splitlines()) == 14


def test_county_columns_aligned() -> None:
    lines = describe("141124").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("code"))
    rows = lines[header : header + 2 + 23 + 1]
    # the last column is right-aligned, so every row ends in the same terminal column
    assert len({_cells(line) for line in rows}) == 1
    assert len({len(line) for line in rows}) > 1  # CJK names make character counts differ
    assert rows[-1].startswith("total")
    assert "504" in rows[-1]


def test_township_lists_villages() -> None:
    town = children("140821")["code"].iloc[0]
    text = describe(town)
    n_villages = len(children(town))
    assert text.splitlines()[0].endswith(town)
    assert sum(line.startswith(town) for line in text.splitlines()) == n_villages


def test_prefecture_and_province() -> None:
    text = describe("1411")
    assert "141124" in text and "504" in text
    assert sum(line.startswith("1411") for line in text.splitlines()) == 13
    province = describe("14")
    assert "21,895" in province
    assert "140171" in province and "zone" in province


def test_village_and_zone() -> None:
    village = children("140821100")["code"].iloc[0]
    assert "猗氏镇" in describe(village)
    assert "no boundary polygon" in describe("140171")


def test_unknown_code() -> None:
    with pytest.raises(GeodataError):
        describe("140899")
