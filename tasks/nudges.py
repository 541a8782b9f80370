"""Tasks for nudges: plan this run's nudges from the learners table and the state of the run before."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from features.attributes import learners_with
from features.nudges.effects import EFFECT_SCHEMA, measured_uplift, nudge_effects, returns
from features.nudges.features import FEATURES, nudge_features
from features.nudges.options import NudgeOptions
from features.nudges.plan import jsonl_lines, nudge_run
from features.nudges.rules import load_rules
from features.nudges.state import empty_state, nudge_events, read_state, state_table, utc_offsets
from outputs.tables import partitions_before, previous_partition, write_parquet


@task(cache_policy=NO_CACHE)
def measure_effects(root: str, run_date: date, timeline_path: str, as_of: datetime, options: NudgeOptions,
                    work_dir: str) -> str:
    """Write ``nudge_effects`` for the assignments of earlier run dates whose window has passed by
    as_of; return the path."""
    earlier = partitions_before(root, "nudge_assignments", run_date)
    units = returns(pa.concat_tables([pq.read_table(p) for p in earlier]).to_pandas(),
                    pq.read_table(timeline_path, columns=["user_id", "event_type", "ts"]), as_of,
                    options.effect_window_days) if earlier else pd.DataFrame()
    return write_parquet(pa.Table.from_pandas(nudge_effects(units), preserve_index=False, schema=EFFECT_SCHEMA),
                         Path(work_dir) / "nudge_effects.parquet")


@task(cache_policy=NO_CACHE)
def plan_nudges(learners_path: str, phase_activity_path: str, phase_scores_path: str, responses_path: str,
                timeline_path: str, effects_path: str, attributes_path: str | None, root: str, run_date: date,
                as_of: datetime, options: NudgeOptions, work_dir: str) -> dict:
    """Write ``nudges`` (ranked with the uplift measured in ``effects_path``),
    ``nudge_assignments``, ``nudge_state`` and ``nudges.jsonl``; return their paths and the
    counts for the manifest. The state starts from the latest published run date strictly
    before ``run_date``; learners opt out by event, or by ``options.opt_out_attribute`` in
    ``attributes_path``."""
    rules = load_rules(options.rules, set(FEATURES))
    features = nudge_features(pq.read_table(learners_path).to_pandas(), pq.read_table(phase_activity_path),
                              pq.read_table(phase_scores_path).to_pandas(),
                              pq.read_table(responses_path, columns=["user_id", "course_id", "submitted_at"]).to_pandas(),
                              as_of)
    before = previous_partition(root, "nudge_state", run_date)
    state = read_state(pq.read_table(before)) if before else empty_state()
    timeline = pq.read_table(timeline_path, columns=["user_id", "event_type", "extra", "ts", "utc_offset_min"])
    opens, opted_out = nudge_events(timeline, options)
    if options.opt_out_attribute:
        opted_out = opted_out | learners_with(pq.read_table(attributes_path).to_pandas(), options.opt_out_attribute)
    effects = pq.read_table(effects_path).to_pandas()
    result = nudge_run(features, rules, state, opens, opted_out, utc_offsets(timeline), run_date, as_of, options,
                       measured_uplift(effects))
    work = Path(work_dir)
    jsonl = work / "nudges.jsonl"
    jsonl.write_text("".join(line + "\n" for line in jsonl_lines(result["nudges"])))
    return {"nudges": write_parquet(pa.Table.from_pandas(result["nudges"], preserve_index=False), work / "nudges.parquet"),
            "nudge_assignments": write_parquet(pa.Table.from_pandas(result["assignments"], preserve_index=False),
                                               work / "nudge_assignments.parquet"),
            "nudge_state": write_parquet(state_table(result["state"]), work / "nudge_state.parquet"),
            "nudge_effects": effects_path, "jsonl": str(jsonl),
            "counts": {**result["counts"], "rules": len(rules), "effects_rows": len(effects),
                       "state_from": before.name if before else None}}
