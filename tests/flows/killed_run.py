"""Run the engage CLI in this process and SIGKILL its whole process group at a chosen point,
as a lost machine would: ``python -m tests.flows.killed_run POINT -- <engage arguments>``.

Points (each a real call in the pipeline, wrapped here and nowhere in production code):
- ``audio``: as the second audio batch's tone analysis starts (the first batch's results are in
  the feature cache, later batches are downloading or downloaded);
- ``scoring``: as the dropout-risk columns are added (phase scores done, the learner-group
  state already saved in the registry);
- ``publishing``: right after the 12th table file lands in its partition's hidden staging
  folder (the 11 tables before it, ``nudge_state`` among them, swapped in; this one half
  published; the manifest not yet written).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import sys


def kill_group() -> None:
    """SIGKILL this process and every process it started (the pool workers included)."""
    os.killpg(os.getpgid(0), signal.SIGKILL)


def kill_on_call(owner, name: str, call: int, after: bool = False) -> None:
    """Replace ``owner.name`` with a wrapper that kills the group on its ``call``-th call
    (before the real call runs, or after it when ``after``)."""
    real = getattr(owner, name)
    calls = {"n": 0}

    @functools.wraps(real)
    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call and not after:
            kill_group()
        result = real(*args, **kwargs)
        if calls["n"] == call and after:
            kill_group()
        return result

    setattr(owner, name, wrapper)


class _Shutil:
    """``shutil`` with ``move`` wrapped, for the one module that publishes partitions."""

    def __init__(self):
        self.move = shutil.move

    def __getattr__(self, name):
        return getattr(shutil, name)


def arm(point: str) -> None:
    """Wrap the call where ``point`` kills the run."""
    if point == "audio":
        import audio.clips

        kill_on_call(audio.clips, "process_map", 2)
    elif point == "scoring":
        import tasks.risk

        kill_on_call(tasks.risk, "with_risk", 1)
    elif point == "publishing":
        import outputs.tables

        outputs.tables.shutil = _Shutil()
        kill_on_call(outputs.tables.shutil, "move", 12, after=True)
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    point, separator, *engage_args = sys.argv[1:]
    assert separator == "--", "usage: killed_run POINT -- <engage arguments>"
    arm(point)
    from flows.cli import main

    sys.exit(main(engage_args))
