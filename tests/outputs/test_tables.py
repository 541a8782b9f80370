from datetime import date

import pyarrow as pa

from outputs.accounting import reconcile
from outputs.tables import publish_partition, read_partition, write_parquet


def test_rerun_replaces_a_partition_whole_and_leaves_no_temporaries(tmp_path):
    day = date(2026, 10, 1)
    first = write_parquet(pa.table({"x": [1, 2, 3]}), tmp_path / "w" / "a.parquet")
    publish_partition(tmp_path / "out", "t", day, [first])
    second = write_parquet(pa.table({"x": [9]}), tmp_path / "w" / "b.parquet")
    folder = publish_partition(tmp_path / "out", "t", day, [second])
    assert read_partition(tmp_path / "out", "t", day)["x"].to_pylist() == [9]
    assert [p.name for p in folder.parent.iterdir()] == ["run_date=2026-10-01"]
    other = write_parquet(pa.table({"x": [5]}), tmp_path / "w" / "c.parquet")
    publish_partition(tmp_path / "out", "t", date(2026, 10, 2), [other])
    assert read_partition(tmp_path / "out", "t", day)["x"].to_pylist() == [9]


def test_what_a_killed_publish_left_aside_goes_at_the_next_publish_of_that_partition_only(tmp_path):
    day, other_day = date(2026, 10, 1), date(2026, 10, 2)
    table_dir = tmp_path / "out" / "t"
    for name in (".run_date=2026-10-01.new-0badf00d", ".run_date=2026-10-01.old-0badf00d",
                 ".run_date=2026-10-02.new-12345678"):
        (table_dir / name).mkdir(parents=True)
        (table_dir / name / "part-0.parquet").write_bytes(b"PAR1 half")  # a file cut by the kill
    publish_partition(tmp_path / "out", "t", day, [write_parquet(pa.table({"x": [1]}), tmp_path / "w" / "a.parquet")])
    assert sorted(p.name for p in table_dir.iterdir()) == [".run_date=2026-10-02.new-12345678", "run_date=2026-10-01"]
    publish_partition(tmp_path / "out", "t", other_day, [write_parquet(pa.table({"x": [2]}), tmp_path / "w" / "b.parquet")])
    assert sorted(p.name for p in table_dir.iterdir()) == ["run_date=2026-10-01", "run_date=2026-10-02"]
    assert read_partition(tmp_path / "out", "t", other_day)["x"].to_pylist() == [2]


def test_reconcile_names_each_broken_identity():
    good = {"ingest": {"input_records": 10, "events": 7, "duplicates": 1, "quarantined": 2},
            "select": {"selected": 6, "filtered_out": 1},
            "responses": {"responses": 3, "mapped": 2, "unmapped": 1}}
    assert reconcile(good) == []
    bad = {**good, "select": {"selected": 6, "filtered_out": 0},
           "responses": {"responses": 3, "mapped": 3, "unmapped": 1}}
    assert reconcile(bad) == ["select: events != selected + filtered_out",
                              "responses: responses != mapped + unmapped"]
