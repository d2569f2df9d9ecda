"""Tests of sim.geodata.divisions against the shipped NBS 2023 table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sim.errors import GeodataError
from sim.geodata import (
    LEVELS,
    Unit,
    _data,
    child_codes,
    children,
    county_of,
    load_divisions,
    resolve_region,
    unit,
)
from sim.geodata import divisions as divisions_module

ZONES = ["140171", "140271", "140671", "140971"]


@pytest.fixture(scope="module")
def divisions() -> pd.DataFrame:
    return load_divisions()


def test_level_totals(divisions: pd.DataFrame) -> None:
    counts = divisions["level"].value_counts().to_dict()
    assert counts == {
        "province": 1,
        "prefecture": 11,
        "county": 121,
        "township": 1352,
        "village": 21895,
    }


def test_zones_are_flagged(divisions: pd.DataFrame) -> None:
    counties = divisions[divisions["level"] == "county"]
    assert sorted(counties.loc[counties["kind"] == "zone", "code"]) == ZONES
    assert set(counties["kind"]) == {"district", "city", "county", "zone"}
    assert (counties["kind"] != "zone").sum() == 117


def test_kinds_per_level(divisions: pd.DataFrame) -> None:
    kinds = divisions.groupby("level")["kind"].agg(set).to_dict()
    assert kinds["province"] == {""}
    assert kinds["prefecture"] == {""}
    assert kinds["township"] <= {"town", "township", "subdistrict", "other"}
    assert kinds["village"] == {"village", "community", "other"}


def test_columns_are_strings(divisions: pd.DataFrame) -> None:
    assert list(divisions.columns) == ["code", "name", "level", "parent", "kind"]
    for column in divisions.columns:
        assert pd.api.types.is_string_dtype(divisions[column])
    assert not divisions.isna().any().any()


def test_every_parent_resolves(divisions: pd.DataFrame) -> None:
    codes = set(divisions["code"])
    assert divisions["code"].is_unique
    rest = divisions[divisions["level"] != "province"]
    assert rest["parent"].isin(codes).all()
    assert divisions.loc[divisions["level"] == "province", "parent"].tolist() == [""]
    lengths = {"province": 2, "prefecture": 4, "county": 6, "township": 9, "village": 12}
    assert (divisions["code"].str.len() == divisions["level"].map(lengths)).all()
    parent_level = rest["parent"].map(divisions.set_index("code")["level"])
    expected = rest["level"].map(dict(zip(LEVELS[1:], LEVELS[:-1], strict=True)))
    assert (parent_level == expected).all()


def test_village_codes(divisions: pd.DataFrame) -> None:
    villages = divisions[divisions["level"] == "village"]
    assert villages["code"].str.fullmatch(r"14[0-9]{10}").all()
    starts = [c.startswith(p) for c, p in zip(villages["code"], villages["parent"], strict=True)]
    assert all(starts)


@pytest.mark.parametrize(
    ("code", "name", "n_townships", "n_villages"),
    [("140821", "临猗县", 14, 284), ("141124", "临县", 23, 504)],
)
def test_county_counts(
    divisions: pd.DataFrame, code: str, name: str, n_townships: int, n_villages: int
) -> None:
    assert unit(code).name == name
    assert len(children(code)) == n_townships
    villages = divisions[(divisions["level"] == "village") & divisions["code"].str.startswith(code)]
    assert len(villages) == n_villages


def test_unit_fields() -> None:
    u = unit("141124")
    assert u == Unit(code="141124", name="临县", level="county", parent="1411", kind="county")
    with pytest.raises(AttributeError):
        u.name = "x"  # type: ignore[misc]
    assert unit("14").parent == ""
    assert unit("14").level == "province"


def test_padded_codes_are_accepted() -> None:
    assert unit("140000").code == "14"
    assert unit("141100").code == "1411"
    assert unit("141124000000").code == "141124"
    assert unit(" 141124100000 ").code == "141124100"


def test_children_in_code_order() -> None:
    towns = children("141124")
    assert towns["code"].is_monotonic_increasing
    assert (towns["level"] == "township").all()
    assert len(children("14")) == 11
    village = children(towns["code"].iloc[0])["code"].iloc[0]
    assert children(village).empty


def test_child_codes_match_children() -> None:
    for code in ("14", "1411", "141124", "141124100"):
        assert child_codes(code) == tuple(children(code)["code"])
    assert child_codes("141124000000") == child_codes("141124")
    assert child_codes(child_codes("141124100")[0]) == ()
    with pytest.raises(GeodataError, match="141199"):
        child_codes("141199")


def test_county_of() -> None:
    village = children("141124100")["code"].iloc[0]
    assert county_of(village) == "141124"
    assert county_of("141124100") == "141124"
    assert county_of("141124") == "141124"
    with pytest.raises(GeodataError, match="1411"):
        county_of("1411")


def test_resolve_region() -> None:
    province = resolve_region("14")
    assert len(province) == 117
    assert not set(ZONES) & set(province)
    taiyuan = resolve_region("1401")
    assert "140171" not in taiyuan
    assert len(taiyuan) == 10
    assert resolve_region("141124") == ["141124"]
    with pytest.raises(GeodataError, match="township"):
        resolve_region("141124100")


@pytest.mark.parametrize("code", ["149999", "141124999", "15", "abc", "1411245", "", "１４"])
def test_bad_codes_raise(code: str) -> None:
    with pytest.raises(GeodataError) as info:
        unit(code)
    assert isinstance(info.value, ValueError)
    assert "starting with 14" in str(info.value)


def test_unknown_code_message_names_code_and_suggests() -> None:
    with pytest.raises(GeodataError, match="141199") as info:
        unit("141199")
    message = str(info.value)
    assert "141124 is 临县" in message
    assert "close matches" in message
    assert "141182" in message


def test_load_divisions_returns_a_copy() -> None:
    first = load_divisions()
    first.loc[:, "name"] = "x"
    assert load_divisions()["name"].iloc[0] == "山西省"


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    divisions_module._table.cache_clear()
    divisions_module._frame.cache_clear()
    yield
    divisions_module._table.cache_clear()
    divisions_module._frame.cache_clear()


@pytest.mark.usefixtures("fresh_cache")
def test_missing_or_corrupt_file_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_data, "_CANDIDATES", (tmp_path / "nowhere",))
    with pytest.raises(GeodataError, match="geodata folder not found"):
        load_divisions()
    monkeypatch.setattr(_data, "_CANDIDATES", (tmp_path,))
    with pytest.raises(GeodataError, match=r"shanxi_divisions\.csv\.gz is missing"):
        load_divisions()
    (tmp_path / "shanxi_divisions.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(GeodataError, match=r"shanxi_divisions\.csv\.gz is corrupt"):
        load_divisions()
