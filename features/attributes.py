"""Learner attributes (age band, gender, first language, ...): an optional input used only to
break results down for fairness, never as a model feature.

The file is CSV, Parquet or NDJSON (by its suffix); ``field_map`` says where the platform keeps
each canonical field, as the telemetry's field map does. Every row ends in the attributes table
or among the rejected rows, counted by reason with their line numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.errors import EngageError

MAX_LINES_SHOWN = 20
TRUE_VALUES = ("true", "yes", "y", "1")


class AttributesError(EngageError):
    """An attributes file that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class AttributeOptions:
    """Where the platform keeps each field (canonical name -> column in the file); columns not
    named here keep their own names, and every column besides ``user_id`` is an attribute."""

    field_map: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LearnerAttributes:
    """The attributes table (``user_id`` and one string column per attribute) and what was
    rejected: reason -> count, and the first line numbers per reason."""

    table: pd.DataFrame
    rows: int
    rejected_by_reason: dict[str, int]
    rejected_lines: dict[str, list[int]]


def _read(path: Path) -> pd.DataFrame:
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    if suffix in (".csv", ".csv.gz"):
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".ndjson", ".jsonl", ".json", ".ndjson.gz", ".jsonl.gz"):
        return pd.read_json(path, lines=True, dtype=False)
    raise AttributesError(f"{path}: unknown attributes format {suffix!r} (use .csv, .parquet or .ndjson)")


def read_attributes(path: str | Path, options: AttributeOptions = AttributeOptions()) -> LearnerAttributes:
    """Read an attributes file and map its columns to canonical names.

    Rows with no ``user_id`` and repeats of a ``user_id`` already seen are rejected (counted,
    with line numbers: the header is line 1 in a CSV, the first record line 1 elsewhere).

    Raises:
        AttributesError: an unreadable file, an unknown format, or a mapped column that is
            missing (the message names the file and the field).
    """
    path = Path(path)
    try:
        raw = _read(path)
    except AttributesError:
        raise
    except Exception as exc:  # pandas raises many types for a broken file; all mean "unreadable"
        raise AttributesError(f"{path}: cannot read learner attributes: {str(exc).splitlines()[0][:200]}") from None
    renames = {}
    for canonical, column in options.field_map.items():
        if column not in raw.columns:
            raise AttributesError(f"{path}: field {canonical!r} maps to column {column!r}, which the file does not "
                                  f"have (columns: {', '.join(map(str, raw.columns))})")
        renames[column] = canonical
    table = raw.rename(columns=renames)
    if "user_id" not in table.columns:
        raise AttributesError(f"{path}: no user_id column (map it with attributes.field_map.user_id)")
    table = table.astype("string")
    first_line = 2 if path.suffix in (".csv", ".gz") and ".csv" in path.suffixes else 1
    lines = pd.Series(range(first_line, first_line + len(table)), index=table.index)
    no_id = table["user_id"].isna() | (table["user_id"].str.strip() == "")
    repeated = table["user_id"].duplicated() & ~no_id
    rejected = {"no_user_id": lines[no_id].tolist(), "repeated_user_id": lines[repeated].tolist()}
    kept = table[~no_id & ~repeated].reset_index(drop=True)
    return LearnerAttributes(
        table=kept[["user_id"] + [c for c in kept.columns if c != "user_id"]], rows=len(table),
        rejected_by_reason={k: len(v) for k, v in rejected.items() if v},
        rejected_lines={k: v[:MAX_LINES_SHOWN] for k, v in rejected.items() if v})


def learners_with(table: pd.DataFrame, column: str, source: str = "learner attributes") -> set[str]:
    """Return the learners whose ``column`` is true (``true``, ``yes``, ``y`` or ``1``, any case).

    Raises ``AttributesError`` naming ``source`` and the column when the table lacks it."""
    if column not in table.columns:
        raise AttributesError(f"{source}: no attribute column {column!r} (columns: {', '.join(table.columns)})")
    values = table[column].astype("string").str.strip().str.lower()
    return set(table.loc[values.isin(TRUE_VALUES).fillna(False), "user_id"])
