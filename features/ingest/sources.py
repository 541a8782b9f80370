"""A telemetry file as plain text: gzip unwrapped by its extension, a UTF-8 byte-order mark
skipped, the format detected, and what could not be read described as one quarantined record.

Defined outcomes (docs/ingest.md):
- a ``.gz`` that is not gzip at all is one ``unreadable_file`` record;
- a ``.gz`` that breaks off (truncated or corrupt) keeps every complete line before the break;
  the rest is one ``gzip_error`` record (for a JSON array: the items before the break are kept);
- a file that starts with a UTF-16 or UTF-32 byte-order mark has no UTF-8 line: each line is
  quarantined as ``invalid_utf8``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from features.ingest.options import MAX_RAW_CHARS
from features.statuses import QuarantineReason

UTF8_BOM = b"\xef\xbb\xbf"
WIDE_BOMS = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32", b"\xff\xfe": "UTF-16",
             b"\xfe\xff": "UTF-16"}


@dataclass
class PlainText:
    """A file's plain bytes at ``path`` (the file itself when it was not compressed).

    ``problem``: the record for what could not be read (reason, detail, raw; its line is set
    when the readable lines are counted), or None. ``wide_encoding``: "UTF-16"/"UTF-32" when a
    byte-order mark says no line is UTF-8.
    """

    path: str
    format: str
    problem: dict | None = None
    wide_encoding: str | None = None


def _text(data: bytes) -> str:
    return data[:MAX_RAW_CHARS * 4].decode("utf-8", "backslashreplace")[:MAX_RAW_CHARS]


def gunzip(src: str | Path, dst: str | Path, chunk: int = 1 << 20) -> tuple[int, str | None]:
    """Decompress gzip ``src`` (any number of members) into ``dst``; return (bytes written,
    None or why the stream broke off). Everything decompressed before a break is written."""
    written, decomp, fed = 0, zlib.decompressobj(wbits=31), False
    with open(src, "rb") as f, open(dst, "wb") as out:
        try:
            while data := f.read(chunk):
                while data:
                    fed = True
                    piece = decomp.decompress(data)
                    out.write(piece)
                    written += len(piece)
                    data = b""
                    if decomp.eof:  # a member ended: what follows is the next member
                        data, decomp, fed = decomp.unused_data, zlib.decompressobj(wbits=31), False
            piece = decomp.flush()
            out.write(piece)
            written += len(piece)
        except zlib.error as exc:
            return written, f"corrupt gzip data ({exc})"
    if fed and not decomp.eof:
        return written, "the gzip stream ends before its end marker (truncated file)"
    return written, None


def _cut_partial_line(path: Path) -> bytes:
    """Cut ``path`` after its last newline; return the bytes that followed it."""
    with open(path, "rb+") as f:
        size = f.seek(0, 2)
        pos, tail = size, b""
        while pos > 0:
            step = min(1 << 16, pos)
            f.seek(pos - step)
            block = f.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                tail = block[cut + 1:] + tail
                f.truncate(pos - step + cut + 1)
                return tail
            tail, pos = block + tail, pos - step
        f.truncate(0)
        return tail


def detect_format(head: bytes) -> str:
    """Return ``"array"`` when the first non-blank byte (after a UTF-8 byte-order mark) is
    ``[``, else ``"ndjson"``."""
    return "array" if head.removeprefix(UTF8_BOM).lstrip(b" \t\r\n").startswith(b"[") else "ndjson"


def plain_text(path: str | Path, scratch: str | Path, fmt: str = "auto") -> PlainText:
    """Return the plain text of a local telemetry file, unwrapping ``.gz`` into ``scratch``.

    Never raises for the file's content; raises ``OSError`` when it cannot be read at all.
    """
    path, scratch = Path(path), Path(scratch)
    problem, broke = None, None
    if path.name.endswith(".gz"):
        plain = scratch / "plain"
        written, broke = gunzip(path, plain)
        if broke and written == 0:
            with open(path, "rb") as f:
                raw = f.read(MAX_RAW_CHARS)
            plain.write_bytes(b"")
            problem = {"reason": QuarantineReason.UNREADABLE_FILE, "raw": _text(raw),
                       "detail": f"named .gz but not readable as gzip: {broke}"}
            return PlainText(str(plain), "ndjson", problem)
    else:
        plain = path
    with open(plain, "rb") as f:
        head = f.read(4096)
    fmt = detect_format(head) if fmt == "auto" else fmt
    wide = next((name for bom, name in WIDE_BOMS.items() if head.startswith(bom)), None)
    if broke:
        problem = {"reason": QuarantineReason.GZIP_ERROR, "detail": f"{broke}; the rest of the file is this record",
                   "raw": ""}
        if fmt == "ndjson":  # the partial last line belongs to the unreadable rest
            problem["raw"] = _text(_cut_partial_line(plain))
    return PlainText(str(plain), fmt, problem, wide)
