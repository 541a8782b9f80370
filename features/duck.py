"""Small helpers for running duckdb SQL over Arrow tables."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa


def utc_connection(memory_limit_mb: int | None = None, threads: int | None = None,
                   temp_dir: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """Return a new duckdb connection in UTC with optional memory, thread and spill settings."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = true")  # ingest relies on it: row order = line order
    if memory_limit_mb:
        con.execute(f"SET memory_limit = '{int(memory_limit_mb)}MB'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if temp_dir:
        con.execute(f"SET temp_directory = {sql_str(str(temp_dir))}")
    return con


def sql_str(value: str) -> str:
    """Return ``value`` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def query(sql: str, **tables: pa.Table) -> pa.Table:
    """Run ``sql`` in a fresh UTC connection with ``tables`` registered by name; return Arrow."""
    con = utc_connection()
    try:
        for name, table in tables.items():
            con.register(name, table)
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


def exact_avg(expr: str, where: str | None = None) -> str:
    """SQL for the mean of ``expr`` (over rows where ``where`` holds) summed exactly, as DECIMAL:
    a float sum depends on the order parallel threads add in, so a rerun could otherwise round
    its last digit the other way."""
    return f"(avg(({expr})::DECIMAL(38, 9)){f' FILTER ({where})' if where else ''})::DOUBLE"


def exact_sum(expr: str, where: str | None = None) -> str:
    """SQL for the sum of ``expr`` added exactly, as DECIMAL; see ``exact_avg``."""
    return f"(sum(({expr})::DECIMAL(38, 9)){f' FILTER ({where})' if where else ''})::DOUBLE"
