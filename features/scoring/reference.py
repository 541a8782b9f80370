"""The scoring reference: what each metric's values looked like in a reference population, saved
so that a learner's score does not move because other learners joined.

A reference holds, per course x phase and metric, 101 quantiles (0th to 100th percentile) of the
reference's learner x phase rows, plus the same pooled over every course and phase. A value's
scaled score is its mid-rank among those quantiles (0-100); a course x phase with fewer than
``MIN_ROWS`` reference rows for a metric is scaled against the pooled quantiles.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.errors import EngageError
from features.scoring.components import METRICS

QUANTILES = np.linspace(0, 1, 101)
POOLED = "*"
MIN_ROWS = 30
MAX_ROWS = 200_000  # quantiles from a seeded sample of at most this many rows per course x phase


class ReferenceError(EngageError):
    """A reference file that cannot be used for these metrics."""


def fit_reference(metrics: pd.DataFrame) -> pd.DataFrame:
    """Return the reference fitted on ``metrics`` (a ``metrics_table`` as a DataFrame): one row
    per (course_id, phase, metric) and per (``*``, ``*``, metric) with ``n`` and ``quantiles``."""
    rows = []
    rng = np.random.default_rng(0)
    groups = metrics.groupby(["course_id", "phase"]).indices
    columns = {metric: metrics[metric].to_numpy(dtype=float) for metric in METRICS}
    for (course, phase), idx in [*((key, groups[key]) for key in sorted(groups)),
                                 ((POOLED, POOLED), np.arange(len(metrics)))]:
        if len(idx) > MAX_ROWS:
            idx = idx[np.sort(rng.choice(len(idx), MAX_ROWS, replace=False))]
        for metric in METRICS:
            values = columns[metric][idx]
            values = values[np.isfinite(values)]
            if len(values):
                rows.append({"course_id": course, "phase": phase, "metric": metric, "n": len(values),
                             "quantiles": np.quantile(values, QUANTILES).tolist()})
    return pd.DataFrame(rows, columns=["course_id", "phase", "metric", "n", "quantiles"])


def percentiles(metrics: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Return each metric of ``metrics`` as its 0-100 mid-rank against the reference of the
    row's course and phase (pooled when that has too few rows); null stays null."""
    lookup = {(r.course_id, r.phase, r.metric): (r.n, np.asarray(r.quantiles, dtype=float))
              for r in reference.itertuples(index=False)}
    groups = metrics.groupby(["course_id", "phase"], sort=False).indices
    out = {}
    for metric in METRICS:
        column = metrics[metric].to_numpy(dtype=float)
        scaled = np.full(len(column), np.nan)
        for (course, phase), idx in groups.items():
            n, q = lookup.get((course, phase, metric), (0, None))
            if n < MIN_ROWS:
                n, q = lookup.get((POOLED, POOLED, metric), (0, None))
            if q is not None:
                scaled[idx] = _mid_rank(q, column[idx])
        out[metric] = scaled
    return pd.DataFrame(out, index=metrics.index)


def _mid_rank(q: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Return each value's mid-rank among the sorted quantiles ``q`` as 0-100 (NaN stays NaN)."""
    right = np.searchsorted(q, values, "right")
    left = right.copy()
    # only values equal to a quantile rank differently from the left; find those cheaply
    tie = (right > 0) & (q[np.maximum(right - 1, 0)] == values)
    left[tie] = np.searchsorted(q, values[tie], "left")
    return np.where(np.isnan(values), np.nan, (left + right) / (2 * len(q)) * 100)


def reference_bytes(reference: pd.DataFrame) -> bytes:
    """Return the reference as Parquet bytes (the registry file)."""
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(reference, preserve_index=False), sink)
    return sink.getvalue()


def read_reference(data: bytes | str) -> pd.DataFrame:
    """Read a reference saved by ``reference_bytes`` (bytes or a path).

    Raises:
        ReferenceError: not a reference, or one without the columns this engage needs.
    """
    try:
        frame = pq.read_table(io.BytesIO(data) if isinstance(data, bytes) else data).to_pandas()
    except (OSError, pa.ArrowInvalid) as exc:
        raise ReferenceError(f"not a scoring reference: {exc}") from None
    missing = {"course_id", "phase", "metric", "n", "quantiles"} - set(frame.columns)
    if missing:
        raise ReferenceError(f"scoring reference lacks columns {sorted(missing)}")
    return frame


REFERENCE_KIND = "scoring-reference"


def current_reference(registry, as_of=None):
    """Return the registry's ``current`` reference entry (with ``as_of``: the one a run as of
    then uses, ``Registry.current_at``) when it was fitted for this score definition, else None."""
    from features.scoring.components import SCORE_DEFINITION

    current = registry.current_at(REFERENCE_KIND, as_of) if as_of else registry.current(REFERENCE_KIND)
    return current if current and current.metadata.get("score_definition") == SCORE_DEFINITION else None


def reference_or_fitted(registry, metrics: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Return the current reference (``current_reference``), else one fitted on ``metrics`` and
    not saved (for work that reads scores but publishes none, like training the risk model)."""
    current = current_reference(registry, as_of)
    return read_reference(str(current.path("reference.parquet"))) if current else fit_reference(metrics)


def reference_for_run(metrics: pd.DataFrame, registry, data_window: dict, as_of=None) -> tuple[pd.DataFrame, dict]:
    """Return (the reference a run as of ``as_of`` scores with, what the manifest records of it).

    The registry's ``current`` reference (the one current at ``as_of``) when it was fitted for
    this score definition; else one fitted on ``metrics``, saved as a candidate (not promoted)
    and used for this run only.
    """
    usable = current_reference(registry, as_of)
    if usable:
        return read_reference(str(usable.path("reference.parquet"))), {
            "version": usable.version, "source": "current", "data_window": usable.metadata.get("data_window")}
    current = registry.current(REFERENCE_KIND)
    reference = fit_reference(metrics)
    entry = save_reference(registry, reference, data_window, promote=False)
    why = "no current reference" if current is None else f"current {current.version} is for another score definition"
    return reference, {"version": entry.version, "source": "fitted_for_this_run", "why": why,
                       "data_window": data_window}


def fit_and_save(phase_activity: pa.Table, registry, promote: bool = True):
    """Fit a reference on a published ``phase_activity`` partition, save it in the registry
    (promoted unless asked not to); return the registry entry."""
    import pyarrow.compute as pc

    from features.scoring.components import metrics_table

    window = {"first": pc.min(phase_activity["first_activity_at"]).as_py().isoformat(),
              "last": pc.max(phase_activity["last_activity_at"]).as_py().isoformat(), "rows": phase_activity.num_rows}
    return save_reference(registry, fit_reference(metrics_table(phase_activity).to_pandas()), window, promote)


def save_reference(registry, reference: pd.DataFrame, data_window: dict, promote: bool):
    """Save a fitted reference in the registry (promoted when asked); return its entry."""
    from features.scoring.components import METRICS, SCORE_DEFINITION

    return registry.save(REFERENCE_KIND, {"reference.parquet": reference_bytes(reference)},
                         {"score_definition": SCORE_DEFINITION, "data_window": data_window,
                          "features": list(METRICS), "rows": int(reference["n"].max()) if len(reference) else 0,
                          "metrics": {"course_phases": int((reference["course_id"] != POOLED).sum() // max(1, len(METRICS)))}},
                         promote=promote)
