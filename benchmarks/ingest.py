"""Ingest throughput and memory against a bare duckdb read_json, measured in the same run.

Generates NDJSON telemetry files (default 0.5 GB and 1.1 GB, with 0.5% broken lines and 0.5%
duplicates), then for each size runs, each in a fresh process so peak RSS is its own, the two
in turn ``--repeats`` times (default 2), keeping each one's fastest run (this machine's speed
drifts by 10-20% between runs of a few seconds):
  - engage ingest: stage (parse, validate, quarantine) + finalize (dedupe) -> events Parquet;
  - bare: duckdb ``read_json`` of the same file with the same columns -> Parquet.
Prints a row per size; the last line is ``mb_per_s=... ratio_to_bare_read=... peak_rss_mb=...``
for the largest size (plus the small size's peak RSS, to show it stays flat).

    python benchmarks/ingest.py [--sizes-mb 500 1100] [--memory-limit-mb 1024] [--repeats 2] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / ".data"

TEMPLATE = (
    '{{"event_id":"e{n:010d}","event_type":"{etype}","user_id":"u{user:06d}","session_id":"s{sess:08d}",'
    '"timestamp":"2026-09-{day:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}+0{tz}:00","level":"A{lvl}",'
    '"cohort":"2026-W{wk:02d}","course_id":"english","lesson_id":"en-A1-L{les:02d}",'
    '"app_version":"5.2.{patch}","device":{{"os":"{os}","model":"m{model}"}}{resp}}}'
)
RESPONSE = (',"response":{{"prompt_id":"en-A1-L{les:02d}-P1","audio_uri":"gs://bucket/audio/u{user:06d}/e{n:010d}.ogg",'
            '"duration_ms":{dur},"expected_duration_ms":3000,"score":0.{score:02d},"attempt":1}}')
TYPES = ("app_open", "session_start", "lesson_start", "prompt_shown", "response_submitted", "lesson_complete")


def generate(path: Path, size_mb: int) -> int:
    """Write about ``size_mb`` MB of NDJSON telemetry to ``path``; return the line count."""
    import random

    rng = random.Random(size_mb)
    target = size_mb * 1_000_000
    n = 0
    written = 0
    with open(path, "w") as f:
        lines = []
        while written < target:
            n += 1
            etype = TYPES[n % 6]
            les = rng.randrange(1, 37)
            user = rng.randrange(200_000)
            line = TEMPLATE.format(
                n=n, etype=etype, user=user, sess=n // 12, day=rng.randrange(1, 29),
                hh=rng.randrange(24), mm=rng.randrange(60), ss=rng.randrange(60), ms=rng.randrange(1000),
                tz=rng.randrange(10), lvl=1 + n % 2, wk=32 + n % 4, les=les, patch=n % 9,
                os="android" if n % 3 else "ios", model=n % 50,
                resp=RESPONSE.format(les=les, user=user, n=n, dur=rng.randrange(800, 6000),
                                     score=rng.randrange(100)) if etype == "response_submitted" else "")
            r = rng.random()
            if r < 0.005:
                line = line[: len(line) // 2]  # broken JSON
            elif r < 0.01:
                lines.append(line)  # an exact duplicate follows
            lines.append(line)
            if len(lines) >= 10_000:
                chunk = "\n".join(lines) + "\n"
                f.write(chunk)
                written += len(chunk)
                lines = []
        if lines:
            f.write("\n".join(lines) + "\n")
    return n


def run_engage(path: str, out: str, memory_limit_mb: int) -> dict:
    """Stage and finalize one file; return counts and seconds (runs in a child process)."""
    sys.path.insert(0, str(ROOT))
    from features.ingest import IngestOptions, finalize_events, stage_file

    options = IngestOptions(memory_limit_mb=memory_limit_mb)
    start = time.perf_counter()
    staged = stage_file(path, Path(path).name, 0, Path(out) / "staged", options)
    result = finalize_events([staged], Path(out) / "events.parquet", Path(out) / "quarantine.parquet",
                             options, temp_dir=Path(out) / "spill")
    return {"seconds": time.perf_counter() - start, "records": staged.records,
            "events": result.events, "duplicates": result.duplicates, "quarantined": staged.quarantined}


def run_bare(path: str, out: str, memory_limit_mb: int) -> dict:
    """duckdb read_json of the same columns written to Parquet (runs in a child process)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit_mb}MB'")
    columns = ("{event_id: 'VARCHAR', event_type: 'VARCHAR', user_id: 'VARCHAR', session_id: 'VARCHAR', "
               "timestamp: 'TIMESTAMPTZ', level: 'VARCHAR', cohort: 'VARCHAR', course_id: 'VARCHAR', "
               "lesson_id: 'VARCHAR', milestone_id: 'VARCHAR', prompt_id: 'VARCHAR', "
               "response: 'STRUCT(prompt_id VARCHAR, audio_uri VARCHAR, duration_ms DOUBLE, "
               "expected_duration_ms DOUBLE, score DOUBLE, attempt INTEGER)'}")
    start = time.perf_counter()
    rows = con.execute(
        f"COPY (SELECT * FROM read_json('{path}', format='newline_delimited', columns={columns}, "
        f"ignore_errors=true)) TO '{out}/bare.parquet' (FORMAT parquet, COMPRESSION zstd)").fetchone()[0]
    return {"seconds": time.perf_counter() - start, "rows": rows}


def measure(kind: str, path: Path, out: Path, memory_limit_mb: int) -> dict:
    """Run ``kind`` in a fresh Python process; return its result with its peak RSS in MB."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.ingest import run_{kind}; "
            f"print(json.dumps(run_{kind}({str(path)!r}, {str(out)!r}, {memory_limit_mb})))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"{kind} benchmark failed with status {status}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[500, 1100])
    parser.add_argument("--memory-limit-mb", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each, the fastest kept")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in sorted(args.sizes_mb):
        path = DATA / f"events-{size}mb.ndjson"
        if not path.exists():
            generate(path, size)
        mb = path.stat().st_size / 1e6
        runs = {"engage": [], "bare": []}
        for _ in range(args.repeats):
            for kind, found in runs.items():
                found.append(measure(kind, path, DATA / f"out-{kind}", args.memory_limit_mb))
        engage, bare = (min(found, key=lambda r: r["seconds"]) for found in runs.values())
        for kind, best in (("engage", engage), ("bare", bare)):
            best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs[kind])
        assert engage["records"] == engage["events"] + engage["duplicates"] + engage["quarantined"]
        row = {"size_mb": round(mb, 1), "engage_mb_per_s": round(mb / engage["seconds"], 1),
               "bare_mb_per_s": round(mb / bare["seconds"], 1),
               "ratio": round(bare["seconds"] / engage["seconds"], 3),
               "engage_peak_rss_mb": round(engage["peak_rss_mb"]), "bare_peak_rss_mb": round(bare["peak_rss_mb"]),
               "records": engage["records"], "quarantined": engage["quarantined"],
               "duplicates": engage["duplicates"]}
        rows.append(row)
        print(json.dumps(row))
        if not args.keep:
            path.unlink()
    shutil.rmtree(DATA / "out-engage", ignore_errors=True)
    shutil.rmtree(DATA / "out-bare", ignore_errors=True)
    big, small = rows[-1], rows[0]
    print(f"mb_per_s={big['engage_mb_per_s']} ratio_to_bare_read={big['ratio']} "
          f"peak_rss_mb={big['engage_peak_rss_mb']} peak_rss_mb_small={small['engage_peak_rss_mb']} "
          f"size_mb={big['size_mb']} size_mb_small={small['size_mb']} memory_limit_mb={args.memory_limit_mb}")


if __name__ == "__main__":
    main()
