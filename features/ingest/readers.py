"""Read telemetry files as numbered raw lines: NDJSON in bounded batches, JSON arrays item by
item, gzip by extension, any byte sequence (lines that are not UTF-8 are flagged, not fatal)."""

from __future__ import annotations

import gzip
import json
import queue
import threading
from pathlib import Path
from typing import BinaryIO, Iterator

import ijson
import pyarrow as pa
import pyarrow.compute as pc

from features.ingest.options import MAX_RAW_CHARS


def read_ahead(batches: Iterator, depth: int = 2) -> Iterator:
    """Yield from ``batches`` while a thread reads the next ones (I/O and splitting release
    the GIL, so they overlap duckdb's work on the current batch)."""
    done = object()
    q: queue.Queue = queue.Queue(maxsize=depth)

    def fill() -> None:
        try:
            for item in batches:
                q.put(item)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)
        q.put(done)

    threading.Thread(target=fill, daemon=True).start()
    while (item := q.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def open_text_source(path: str | Path) -> BinaryIO:
    """Open a local file for reading bytes, unwrapping gzip by the ``.gz`` extension."""
    path = str(path)
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def detect_format(path: str | Path) -> str:
    """Return ``"array"`` when the first non-blank byte is ``[``, else ``"ndjson"``."""
    with open_text_source(path) as f:
        head = f.read(4096).lstrip(b" \t\r\n\xef\xbb\xbf")
    return "array" if head.startswith(b"[") else "ndjson"


def iter_ndjson_lines(stream: BinaryIO, batch_bytes: int) -> Iterator[tuple[int, pa.Array]]:
    """Yield ``(first_line_number, lines)`` batches of raw lines (binary, newline stripped)."""
    line_no = 1
    rest = b""
    while chunk := stream.read(batch_bytes):
        chunk = rest + chunk
        cut = chunk.rfind(b"\n")
        if cut < 0:
            rest = chunk
            continue
        rest = chunk[cut + 1:]
        lines = pc.split_pattern(pa.array([chunk[:cut]], pa.binary()), b"\n").flatten()
        yield line_no, lines
        line_no += len(lines)
    if rest:
        yield line_no, pa.array([rest], pa.binary())


def decode_lines(lines: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Return (text, utf8_ok) for raw lines; bytes that are not UTF-8 are shown escaped."""
    try:
        text = pc.utf8_rtrim(lines.cast(pa.string()), characters="\r")
        return text, pa.array([True] * len(text))
    except pa.ArrowInvalid:
        raw = lines.to_pylist()
        ok = [_is_utf8(b) for b in raw]
        return pa.array([decode_line(b) for b in raw], pa.string()), pa.array(ok)


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def decode_line(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace").rstrip("\r")


def array_to_ndjson(src: str | Path, dst: str | Path) -> dict | None:
    """Write the items of a top-level JSON array in ``src`` as NDJSON lines to ``dst``.

    Returns None, or ``{"item", "message", "raw"}`` describing where the array broke off.
    """
    with open_text_source(src) as f, open(dst, "wb") as out:
        number = 0
        try:
            for number, item in enumerate(ijson.items(f, "item", use_float=True), start=1):
                out.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode())
                out.write(b"\n")
        except ijson.JSONError as exc:
            tail = f.read(MAX_RAW_CHARS).decode("utf-8", "replace")
            return {"item": number + 1, "message": str(exc).splitlines()[0], "raw": tail}
    return None
