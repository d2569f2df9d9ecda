"""The parcel and trip files of a run folder, written block by block in lean types.

A run writes ``parcels.parquet`` one row group per (county, replication) block as the block
finishes, so no more than one county's parcels are ever held (:mod:`sim.stream`). The file's
types are lean: minutes as float32 (within 1/64 minute up to day 364, 1/32 minute up to
day 728), ids as int32, codes and states as dictionary-encoded strings, and the outbound
columns (``t_collected``, ``t_centre``, ``t_trunk``) only when the scenario has outbound
demand. Which parcels are written is the run's ``parcels`` choice:

- ``all``: every parcel;
- ``sample``: a systematic 1-in-:data:`SAMPLE_EVERY` sample, the rows whose position in
  their (county, replication) block is a multiple of it (every county, day and village
  keeps its share);
- ``none``: no parcel file.

The default (``auto``) writes all parcels up to :data:`AUTO_ALL_MAX` expected parcels and
the sample above.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sim.scenario import Scenario

ParcelsChoice = Literal["auto", "all", "sample", "none"]

#: ``sample`` keeps the rows whose position in their (county, replication) block is a
#: multiple of this.
SAMPLE_EVERY = 100
#: ``auto`` writes every parcel up to this many expected parcels, the sample above.
AUTO_ALL_MAX = 20_000_000

_OUTBOUND_ONLY = ("t_collected", "t_centre", "t_trunk")
_TIMES = (
    "t_created",
    "t_sorted",
    "t_shuttle_depart",
    "t_township",
    "t_loop_depart",
    "t_point",
    "t_picked_up",
    "t_returned",
    *_OUTBOUND_ONLY,
)
_CODES = (
    "carrier",
    "direction",
    "county_code",
    "township_code",
    "village_code",
    "point_kind",
    "final_state",
    "place",
    "reason",
)


def has_outbound(scenario: Scenario) -> bool:
    """Whether a scenario can create outbound parcels (else their columns are left out)."""
    ob = scenario.demand.outbound
    return ob.parcels_per_village_per_day > 0 or any(
        s.peak_parcels_per_village_per_day > 0 for s in ob.specialties
    )


def resolve_choice(choice: ParcelsChoice, expected_parcels: float) -> ParcelsChoice:
    """``auto`` made concrete: ``all`` up to :data:`AUTO_ALL_MAX` expected parcels, else
    ``sample``."""
    if choice != "auto":
        return choice
    return "all" if expected_parcels <= AUTO_ALL_MAX else "sample"


def parcel_schema(scenario: Scenario) -> pa.Schema:
    """The schema of a run's ``parcels.parquet``."""
    import pyarrow as pa

    code = pa.dictionary(pa.int32(), pa.string())
    times = [t for t in _TIMES if has_outbound(scenario) or t not in _OUTBOUND_ONLY]
    fields = [
        pa.field("replication", pa.int32()),
        pa.field("parcel_id", pa.int32()),
        *(pa.field(c, code) for c in _CODES[:5]),
        *(pa.field(t, pa.float32()) for t in times),
        pa.field("held_at_township", pa.bool_()),
        pa.field("point_kind", code),
        pa.field("locker_overflows", pa.int16()),
        *(pa.field(c, code) for c in _CODES[6:]),
    ]
    return pa.schema(fields)


def lean_parcels(parcels: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A block of the parcel table as an Arrow table of ``schema`` (see the module notes)."""
    import pyarrow as pa

    arrays = []
    for f in schema:
        col = parcels[f.name]
        if pa.types.is_dictionary(f.type):
            arrays.append(_dictionary(col))
        else:
            arrays.append(pa.array(col.to_numpy().astype(f.type.to_pandas_dtype()), f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _dictionary(col: pd.Series) -> pa.DictionaryArray:
    """A categorical column as a dictionary array of the categories it uses, in their order."""
    import pyarrow as pa

    cat = col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype("category")
    codes = cat.cat.codes.to_numpy()
    names = cat.cat.categories.astype(str).to_numpy()
    missing = codes < 0
    used = np.bincount(codes[~missing], minlength=len(names)) > 0
    new = np.cumsum(used, dtype=np.int32) - 1
    return pa.DictionaryArray.from_arrays(
        pa.array(new[codes], pa.int32(), mask=missing if missing.any() else None),
        pa.array(names[used], pa.string()),
    )


class TableWriter:
    """A parquet file written one row group per block, closed under its final name only by
    :meth:`close` (callers write into a temporary folder and rename it when complete)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = path
        self.schema = schema
        self.rows = 0
        # Dictionary pages for the code columns only: trying them on the float columns
        # costs more than half the write and saves nothing.
        codes = [f.name for f in schema if pa.types.is_dictionary(f.type) or f.type == pa.string()]
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(path, schema, use_dictionary=codes)

    def write(self, table: pa.Table) -> None:
        """Append ``table`` (of the writer's schema) as a row group."""
        if self._writer is None:
            raise ValueError(f"{self.path}: writer already closed")
        if table.num_rows:
            self._writer.write_table(table)
            self.rows += table.num_rows

    def close(self) -> None:
        """Finish the file (its footer); idempotent."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def lean_trips(trips: pd.DataFrame) -> pa.Table:
    """A block of the trip table as Arrow (strings stay strings, minutes float64)."""
    import pyarrow as pa

    return pa.Table.from_pandas(trips, schema=trip_schema(), preserve_index=False)


def trip_schema() -> pa.Schema:
    """The schema of a run's ``trips.parquet``."""
    import pyarrow as pa

    s, f8 = pa.string(), pa.float64()
    return pa.schema(
        [
            ("replication", pa.int32()),
            ("county_code", s),
            ("run", pa.int64()),
            ("vehicle", s),
            ("type", s),
            ("kind", s),
            ("from_code", s),
            ("to_code", s),
            ("depart", f8),
            ("arrive", f8),
            ("km", f8),
            ("load", pa.int64()),
            ("stop_min", f8),
        ]
    )
