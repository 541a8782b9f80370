"""Learner attributes: CSV, Parquet and NDJSON read and mapped to canonical names; bad files
named with the field; bad rows rejected with their line numbers, never silently dropped."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from features.attributes import AttributeOptions, AttributesError, read_attributes

ROWS = [{"uid": "u1", "age": "18-24", "sex": "f", "first_language": "es"},
        {"uid": "u2", "age": "25-34", "sex": "m", "first_language": "zh"}]
MAP = AttributeOptions(field_map={"user_id": "uid", "age_band": "age", "gender": "sex"})


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".ndjson"])
def test_every_format_maps_to_canonical_names(tmp_path, suffix):
    path = tmp_path / f"attributes{suffix}"
    frame = pd.DataFrame(ROWS)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        path.write_text("\n".join(json.dumps(r) for r in ROWS))
    read = read_attributes(path, MAP)
    assert list(read.table.columns) == ["user_id", "age_band", "gender", "first_language"]
    assert read.table.to_dict("records")[1] == {"user_id": "u2", "age_band": "25-34", "gender": "m",
                                                "first_language": "zh"}
    assert read.rows == 2 and read.rejected_by_reason == {}


def test_rows_without_an_id_or_repeating_one_are_rejected_with_their_lines(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("user_id,gender\nu1,f\n,m\nu2,m\nu1,m\n")
    read = read_attributes(path)
    assert read.table["user_id"].tolist() == ["u1", "u2"]
    assert read.rows == 4 and read.rejected_by_reason == {"no_user_id": 1, "repeated_user_id": 1}
    assert read.rejected_lines == {"no_user_id": [3], "repeated_user_id": [5]}  # the header is line 1


@pytest.mark.parametrize("body, options, message", [
    ("gender\nf\n", AttributeOptions(), "no user_id column"),
    ("uid,gender\nu1,f\n", AttributeOptions(field_map={"user_id": "learner"}), "field 'user_id' maps to column 'learner'"),
])
def test_a_file_that_cannot_be_used_names_the_file_and_field(tmp_path, body, options, message):
    path = tmp_path / "a.csv"
    path.write_text(body)
    with pytest.raises(AttributesError, match=message) as err:
        read_attributes(path, options)
    assert str(path) in str(err.value)


def test_unknown_format_and_unreadable_file(tmp_path):
    (tmp_path / "a.xlsx").write_text("x")
    with pytest.raises(AttributesError, match="unknown attributes format"):
        read_attributes(tmp_path / "a.xlsx")
    (tmp_path / "b.parquet").write_bytes(b"not parquet")
    with pytest.raises(AttributesError, match="b.parquet: cannot read"):
        read_attributes(tmp_path / "b.parquet")


def test_learners_flagged_by_an_attribute_and_a_missing_column_named():
    from features.attributes import learners_with

    table = pd.DataFrame({"user_id": ["a", "b", "c", "d", "e"], "opt_out": ["yes", "No", " TRUE", None, "1"]})
    assert learners_with(table, "opt_out") == {"a", "c", "e"}
    with pytest.raises(AttributesError, match="no attribute column 'nudges_off'"):
        learners_with(table, "nudges_off")
