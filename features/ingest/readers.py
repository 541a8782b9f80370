"""The Python reader: any byte sequence as numbered lines, for files duckdb's readers refuse.

Batches are Arrow tables ``(line_no, line, utf8_ok, preset_reason, preset_detail)``, the same
relation the validation query reads from duckdb's own readers. A line that is not UTF-8 keeps its
bytes shown as escapes (``utf8_ok`` false). A JSON array is streamed item by item (ijson); item
*k* is line *k*; where its syntax breaks off the rest of the file is one record with its verdict
preset (``array_syntax_error``, ``invalid_utf8`` or ``gzip_error``).
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Iterator

import ijson
import pyarrow as pa
import pyarrow.compute as pc

from features.ingest.options import MAX_RAW_CHARS
from features.ingest.sources import UTF8_BOM, PlainText
from features.statuses import QuarantineReason

LINES_SCHEMA = pa.schema([("line_no", pa.int64()), ("line", pa.string()), ("utf8_ok", pa.bool_()),
                          ("preset_reason", pa.string()), ("preset_detail", pa.string())])


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


def decode_line(b: bytes) -> str:
    """Return a raw line as text, bytes that are not UTF-8 shown as escapes, a final CR dropped."""
    return b.decode("utf-8", "backslashreplace").rstrip("\r")


def _batch(first: int, text: list[str] | pa.Array, utf8_ok: list[bool] | pa.Array,
           presets: list[tuple[str | None, str | None]] | None = None) -> pa.Table:
    n = len(text)
    reasons, details = zip(*presets) if presets else ([None] * n, [None] * n)
    return pa.table([pa.array(range(first, first + n), pa.int64()), pa.array(text, pa.string()),
                     pa.array(utf8_ok, pa.bool_()), pa.array(reasons, pa.string()), pa.array(details, pa.string())],
                    schema=LINES_SCHEMA)


def problem_line(line_no: int, problem: dict) -> pa.Table:
    """Return a one-line batch holding a file-level problem record with its verdict preset."""
    return _batch(line_no, [problem["raw"]], [True], [(str(problem["reason"]), problem["detail"])])


def ndjson_batches(plain: PlainText, batch_bytes: int) -> Iterator[pa.Table]:
    """Yield line batches of an NDJSON file, then its file-level problem record, if any."""
    line_no, rest = 1, b""
    with open(plain.path, "rb") as stream:
        while chunk := stream.read(batch_bytes):
            if line_no == 1 and not rest:
                chunk = chunk.removeprefix(UTF8_BOM)
            chunk = rest + chunk
            cut = chunk.rfind(b"\n")
            if cut < 0:
                rest = chunk
                continue
            rest = chunk[cut + 1:]
            raw = pc.split_pattern(pa.array([chunk[:cut]], pa.binary()), b"\n").flatten()
            yield _decoded(line_no, raw, plain.wide_encoding)
            line_no += len(raw)
    if rest:
        yield _decoded(line_no, pa.array([rest], pa.binary()), plain.wide_encoding)
        line_no += 1
    if plain.problem:
        yield problem_line(line_no, plain.problem)


def _decoded(first: int, raw: pa.Array, wide_encoding: str | None) -> pa.Table:
    """A batch of raw lines as text; lines of a UTF-16/32 file get the invalid_utf8 verdict."""
    try:
        text = pc.utf8_rtrim(raw.cast(pa.string()), characters="\r")
        ok = [True] * len(text)
    except pa.ArrowInvalid:
        lines = raw.to_pylist()
        text, ok = [decode_line(b) for b in lines], [_is_utf8(b) for b in lines]
    presets = None
    if wide_encoding:
        preset = (str(QuarantineReason.INVALID_UTF8), f"{wide_encoding} text (byte-order mark); engage reads UTF-8")
        presets = [preset if (t or "").strip(" \t\r") else (None, None) for t in pa.array(text).to_pylist()]
    return _batch(first, text, ok, presets)


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def array_batches(plain: PlainText, rows: int = 16_384) -> Iterator[pa.Table]:
    """Yield batches of a JSON array's items (re-serialised as compact JSON), then one record
    for the rest of the file where its syntax or encoding broke off, if it did."""
    text, presets, first, number = [], [], 1, 0

    def flush() -> pa.Table:
        nonlocal text, presets, first
        batch = _batch(first, text, [True] * len(text), presets)
        first, text, presets = first + len(text), [], []
        return batch

    with open(plain.path, "rb") as f:
        if f.read(len(UTF8_BOM)) != UTF8_BOM:
            f.seek(0)
        try:
            for number, item in enumerate(ijson.items(f, "item", use_float=True), start=1):
                try:
                    text.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
                    presets.append((None, None))
                except (RecursionError, ValueError) as exc:
                    text.append("")
                    presets.append((str(QuarantineReason.INVALID_JSON),
                                    f"array item cannot be re-serialised: {type(exc).__name__}"))
                if len(text) >= rows:
                    yield flush()
            broke = None
        except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
            broke = exc
            tail = f.read(MAX_RAW_CHARS * 4).decode("utf-8", "backslashreplace")[:MAX_RAW_CHARS]
    if text:
        yield flush()
    if broke is not None or plain.problem:
        yield problem_line(number + 1, _array_break(plain, broke, tail if broke is not None else ""))


def _array_break(plain: PlainText, exc: Exception | None, tail: str) -> dict:
    """The record for the rest of an array: gzip_error when the file's gzip stream broke off,
    invalid_utf8 when its bytes are not UTF-8, else array_syntax_error."""
    if plain.problem:
        return {**plain.problem, "raw": tail}
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    not_utf8 = plain.wide_encoding or isinstance(exc, UnicodeDecodeError) or "utf" in message.lower()
    reason = QuarantineReason.INVALID_UTF8 if not_utf8 else QuarantineReason.ARRAY_SYNTAX_ERROR
    return {"reason": reason, "raw": tail, "detail": f"{message}; the rest of the file is this one record"}
