"""``engage purge``: erase one learner from everything engage wrote."""

from __future__ import annotations

from pathlib import Path

from audio.feature_cache import FeatureCache
from audio.fetch import AudioCache
from flows.config import load_config
from flows.report import rebuild_report
from outputs.purge import purge_tables, record_purge
from outputs.tables import run_dates


def purge_learner(config_file: str, user_id: str) -> dict:
    """Remove ``user_id`` from every table partition and export under the output root (events,
    quarantined records naming them, sessions, responses, scores, learners, nudges, assignments,
    nudge state, attributes, ...), their cached audio and every result computed from it, then
    rebuild every run date's report and insights from the purged tables and note the removed
    row counts (not the id) in each affected manifest. Return what was removed.

    The platform's own copies (telemetry and audio in its bucket) are not engage's: purge them
    there too, or the next run reads them again. Fitted models hold no learner ids."""
    config = load_config(config_file)
    root = config.output.root
    purged = purge_tables(root, user_id)
    record_purge(root, purged.rows)
    audio_files = AudioCache(Path(config.cache_dir) / "audio", config.audio.cache_max_mb << 20).purge_user(user_id)
    results = FeatureCache(config.cache_dir).remove(purged.content_keys)
    reports = [rebuild_report(config_file, day)["report"] for day in run_dates(root, "report")]
    return {"rows_removed": purged.rows, "cached_audio_files": audio_files, "cached_results": results,
            "reports_rebuilt": reports}
