"""Show that a restructuring changed no result: run the demo at an earlier commit (in a git
worktree) and at the working tree, and compare every table row for row.

Each side simulates its own demo platform (same seed) into its own storage emulator and runs
the pipeline on it, so the simulator is compared too. Tables are sorted by their keys; floats
must agree within 1e-9, everything else exactly. Documented differences are mapped before the
comparison: ``responses.emotion_status`` was ``"unavailable: <reason>"`` in one column and is
now ``"unavailable"`` with the reason in ``emotion_detail``; ``audio_detail`` of a corrupt clip
no longer names the cached file (``Error opening '<local path>': `` is dropped); and
``responses.content_key`` is not compared (OGG encoding is not byte-reproducible). Manifest fields that legitimately
differ (timings, code version, the config's shape and hash, paths, object generations) are
listed, not compared.

    python benchmarks/demo_equivalence.py --before 17e6257 [--after COMMIT] [--workdir DIR] [--reuse]

Last line: ``tables_equal=... tables=... rows_compared=... manifest_fields_equal=...``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"events": ["event_id"], "quarantine": ["source_file", "source_line"],
        "sessions": ["user_id", "session_id"], "responses": ["response_id"],
        "phase_activity": ["user_id", "course_id", "phase"]}
# Columns whose values differ between any two simulations, whatever the code.
DIFFERING_COLUMNS = {("responses", "content_key"): "sha256 of the audio bytes: OGG streams carry a random "
                                                   "serial number, so each simulation encodes different bytes "
                                                   "(decoded samples are identical)"}
# Manifest fields whose values are expected to differ between two runs of the same data.
DIFFERING = {"timings_s": "seconds per stage (and the stages' names)", "code_version": "the commit",
             "config": "the config file's shape (sections are the libraries' dataclasses)",
             "config_hash": "hash of that config", "manifest_path": "workdir", "tables": "workdir"}


def run_demo(tree: Path, workdir: Path) -> Path:
    """Run ``engage demo`` with the code in ``tree``; return the manifest's path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("STORAGE_EMULATOR_HOST", None)
    proc = subprocess.run([sys.executable, "-m", "flows.cli", "demo", "--workdir", str(workdir)], cwd=tree,
                          env=env, capture_output=True, text=True, timeout=1800)
    print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n")
    if proc.returncode != 0:
        raise SystemExit(f"demo at {tree} failed with {proc.returncode}")
    return next(workdir.parent.rglob("manifest.json"))


def run_both(commit: str, after: str | None, base: Path) -> tuple[dict, dict]:
    """Run the demo at ``commit`` and at ``after`` (temporary worktrees; None: the working tree);
    return both manifests. The earlier demo writes to <its workdir's parent>/.demo/out."""
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    trees = {"before": base / "before", "after": base / "after-tree" if after else ROOT}
    for side, rev in (("before", commit), ("after", after)):
        if rev:
            subprocess.run(["git", "worktree", "add", "--detach", str(trees[side]), rev], cwd=ROOT, check=True)
    try:
        manifests = (json.loads(run_demo(trees["before"], base / "before-demo" / ".demo").read_text()),
                     json.loads(run_demo(trees["after"], base / "after" / ".demo").read_text()))
    finally:
        for side, rev in (("before", commit), ("after", after)):
            if rev:
                subprocess.run(["git", "worktree", "remove", "--force", str(trees[side])], cwd=ROOT, check=False)
    return manifests


def rows(table: str, manifest: dict) -> list[dict]:
    """The table's rows sorted by key, with the documented changes applied."""
    data = pq.read_table(manifest["tables"][table]).to_pylist()
    for r in data:
        if r.get("audio_detail"):  # the decoder's message named the cached file before
            r["audio_detail"] = re.sub(r"Error opening '[^']*': ", "", r["audio_detail"])
    if table == "responses":
        for r in data:
            if "emotion_detail" not in r:
                status, _, detail = (r["emotion_status"] or "").partition(": ")
                r["emotion_status"], r["emotion_detail"] = status or None, detail or None
    return sorted(data, key=lambda r: tuple("" if r[k] is None else str(r[k]) for k in KEYS[table]))


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9
    return a == b


def compare(table: str, before: dict, after: dict) -> tuple[bool, int, list[str]]:
    a, b = rows(table, before), rows(table, after)
    problems = []
    if len(a) != len(b):
        problems.append(f"{len(a)} rows before, {len(b)} after")
    elif a and set(a[0]) != set(b[0]):
        problems.append(f"columns differ: {sorted(set(a[0]) ^ set(b[0]))}")
    else:
        for x, y in zip(a, b):
            bad = [c for c in x if (table, c) not in DIFFERING_COLUMNS and not same(x[c], y[c])]
            if bad:
                problems.append(f"{[x[k] for k in KEYS[table]]}: {bad[:5]}")
                if len(problems) > 5:
                    break
    return not problems, len(a), problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the commit to compare against")
    parser.add_argument("--after", help="the commit to compare (default: the working tree)")
    parser.add_argument("--workdir", default="/tmp/engage-equivalence")
    parser.add_argument("--reuse", action="store_true", help="compare the outputs of an earlier call")
    args = parser.parse_args()
    base = Path(args.workdir)
    if args.reuse:
        before, after = (json.loads(next((base / side).rglob("manifest.json")).read_text())
                         for side in ("before-demo", "after"))
    else:
        before, after = run_both(args.before, args.after, base)
    equal, compared = 0, 0
    for table in KEYS:
        ok, n, problems = compare(table, before, after)
        equal += ok
        compared += n
        print(f"{table:15s} rows={n:6d} equal={ok} {'; '.join(problems)}")
    for manifest in (before, after):  # a fresh emulator gives objects new generations
        manifest["inputs"] = [{k: v for k, v in i.items() if k != "generation"} for i in manifest["inputs"]]
    for (table, column), why in DIFFERING_COLUMNS.items():
        print(f"{table}.{column}: not compared ({why})")
    fields = sorted(set(before) | set(after))
    same_fields = [f for f in fields if f not in DIFFERING and before.get(f) == after.get(f)]
    for f in fields:
        if f in DIFFERING:
            print(f"manifest.{f}: differs by design ({DIFFERING[f]})")
        elif before.get(f) != after.get(f):
            print(f"manifest.{f}: DIFFERS\n  before {before.get(f)}\n  after  {after.get(f)}")
    checked = [f for f in fields if f not in DIFFERING]
    print(f"tables_equal={equal} tables={len(KEYS)} rows_compared={compared} "
          f"manifest_fields_equal={len(same_fields)} manifest_fields_checked={len(checked)}")


if __name__ == "__main__":
    main()
