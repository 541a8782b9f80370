"""What ingest is told (``IngestOptions``) and what staging one file reports (``StagedFile``)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from annotated_types import Ge

from features.telemetry_schema import FieldMap

# Raw text kept in quarantine is cut to this many characters (the record is still counted).
MAX_RAW_CHARS = 65_536


@dataclass(frozen=True)
class IngestOptions:
    """How records are read (the ``ingest`` config section).

    ``field_map`` overrides where the platform keeps canonical fields (canonical name ->
    ``$.key.subkey``); ``naive_timezone`` reads times written without an offset; ``format``
    is ``auto`` (first byte ``[`` = JSON array), ``ndjson`` or ``array``. Up to
    ``parallel_files`` files (None: one per core) are read at once, sharing
    ``memory_limit_mb`` (duckdb spills to disk beyond it) and ``threads`` (None: all cores).

    Raises:
        ValueError: an unknown time zone, canonical field or malformed path (naming it).
    """

    format: Literal["auto", "ndjson", "array"] = "auto"
    field_map: Mapping[str, str] = field(default_factory=dict)
    naive_timezone: str = "UTC"
    memory_limit_mb: Annotated[int, Ge(128)] = 2048
    parallel_files: Annotated[int, Ge(1)] | None = None
    batch_bytes: Annotated[int, Ge(1 << 16)] = 32 << 20
    threads: Annotated[int, Ge(1)] | None = None

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.naive_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"naive_timezone: unknown time zone {self.naive_timezone!r}") from exc
        FieldMap.with_overrides(self.field_map)

    @cached_property
    def fields(self) -> FieldMap:
        """The full field map: defaults with ``field_map`` applied."""
        return FieldMap.with_overrides(self.field_map)

    def files_at_once(self, files: int | None = None) -> int:
        """Return how many files (of ``files``, when known) are read at once."""
        most = self.parallel_files or os.cpu_count() or 1
        return max(1, min(files, most) if files is not None else most)

    def share(self, files: int) -> IngestOptions:
        """Return the options for one of ``files_at_once(files)`` files read at once: an equal
        share of the memory limit and of the threads."""
        n = self.files_at_once(files)
        threads = self.threads or os.cpu_count() or 1
        return dataclasses.replace(self, memory_limit_mb=max(128, self.memory_limit_mb // n),
                                   threads=max(1, threads // n))


@dataclass
class StagedFile:
    """What staging one source produced; ``records = valid + quarantined``."""

    source: str
    source_index: int
    local_path: str
    staged_dir: str
    format: str = "ndjson"
    reader: str = "duckdb"  # duckdb (one query) | python (any bytes, line by line)
    plain_path: str = ""  # the file's plain text (unwrapped from gzip) while the run lasts
    records: int = 0
    valid: int = 0
    quarantined: int = 0
    blank_lines: int = 0
    naive_timestamps: int = 0
