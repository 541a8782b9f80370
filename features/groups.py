"""Learner groups: k-means on per-learner features, with ids that stay stable across runs.

Each run refits. k is chosen by the silhouette on a sample (2 to ``max_k``), keeping the saved
k unless another k is better by more than ``keep_k_margin``; with the saved k the fit starts from
the saved centroids. New centroids are matched to the saved ones (Hungarian assignment on
distance in standard units); a matched group keeps its id, name and first-seen date, an
unmatched one gets a new id and a name from its profile. A profile is a plain-language phrase
generated from the centroid against the population ("practises almost daily, long answers,
flat voice").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated

import numpy as np
import pandas as pd
import pyarrow as pa
from annotated_types import Ge, Gt

from features.duck import exact_sum, query

# Feature -> (phrase when the group is high on it, phrase when low); practice frequency also says
# its rate (``_practice``).
FEATURES = {
    "practice_days_per_week": ("practises more than most", "practises less than most"),
    "minutes_per_active_day": ("long sessions", "short sessions"),
    "completion_rate": ("finishes lessons", "leaves lessons unfinished"),
    "answer_effort_ratio": ("long answers", "short answers"),
    "pitch_range_st": ("lively voice", "flat voice"),
    "latency_s": ("slow to answer", "answers quickly"),
}


@dataclass(frozen=True)
class GroupOptions:
    """The ``groups`` config section."""

    max_k: Annotated[int, Ge(2)] = 8
    min_group_share: Annotated[float, Ge(0)] = 0.05  # a k with a smaller group is not considered
    keep_k_margin: Annotated[float, Ge(0)] = 0.02
    match_distance: Annotated[float, Gt(0)] = 1.0  # in standard units of the features
    fit_sample: Annotated[int, Ge(100)] = 50_000
    silhouette_sample: Annotated[int, Ge(100)] = 4_000
    seed: int = 0


def learner_features(phase_activity: pa.Table) -> pd.DataFrame:
    """Return one row per learner x course with the ``FEATURES`` (null where no data)."""
    present = set(phase_activity.column_names)
    def weighted(col: str) -> str:  # mean over the learner's analysable answers
        if col not in present:
            return "NULL"
        return (f"{exact_sum(f'{col} * audio_ok_responses')} / "
                f"nullif(sum(audio_ok_responses) FILTER ({col} IS NOT NULL), 0)")

    effort, pitch = weighted("answer_effort_ratio"), weighted("f0_range_st_mean")
    return query(
        f"""
        SELECT user_id, course_id,
               sum(active_days) * 7.0 / {exact_sum('span_days')} AS practice_days_per_week,
               {exact_sum('minutes')} / sum(active_days) AS minutes_per_active_day,
               sum(least(lessons_completed, lessons_started)) / nullif(sum(lessons_started), 0) AS completion_rate,
               {effort} AS answer_effort_ratio, {pitch} AS pitch_range_st,
               median(median_latency_s) AS latency_s
        FROM activity GROUP BY user_id, course_id ORDER BY user_id, course_id
        """, activity=phase_activity).to_pandas()


def _practice(days_per_week: float) -> str:
    for least, words in ((4.5, "almost daily"), (2.5, "several days a week"), (0.9, "about weekly"),
                         (0.3, "now and then")):
        if days_per_week >= least:
            return words
    return "rarely"


def profile(centroid: dict, mean: dict, sd: dict, most: int = 3) -> str:
    """Return the plain-language profile of a centroid: the features where it stands out most
    (at least 0.4 standard deviations from the population mean), in order."""
    z = {f: (centroid[f] - mean[f]) / sd[f] for f in FEATURES if sd.get(f)}
    phrases = []
    for f in sorted(z, key=lambda f: -abs(z[f]))[:most]:
        if abs(z[f]) >= 0.4:
            high, low = FEATURES[f]
            phrase = high if z[f] > 0 else low
            phrases.append(f"{phrase} ({_practice(centroid[f])})" if f == "practice_days_per_week" else phrase)
    return ", ".join(phrases) if phrases else "close to the average learner"


def fit_groups(features: pd.DataFrame, saved: dict | None, run_date: date,
               options: GroupOptions = GroupOptions()) -> tuple[pd.Series, list[dict], dict]:
    """Cluster the learners of ``features`` (from ``learner_features``).

    Returns (group id per row, one dict per group: id, name, profile, size, centroid,
    first_seen; the state to save for the next run). ``saved`` is the previous run's state or
    None. Missing feature values are imputed with the run's medians.
    """
    from sklearn.cluster import KMeans

    if features.empty:  # no learner to group: the saved state carries on unchanged
        return pd.Series([], index=features.index, dtype="Int64"), [], saved or {
            "features": list(FEATURES), "k": 0, "next_id": 1, "groups": []}
    # Features without information in this run (all missing, or one value) are left out.
    names = [f for f in FEATURES if features[f].notna().mean() >= 0.2 and features[f].nunique() > 1]
    names = names or list(FEATURES)[:1]
    raw = features[names].astype(float)
    medians = raw.median().fillna(0.0)
    # Clipped at the 2nd and 98th percentiles: a handful of extreme learners must not make a group.
    X_raw = raw.fillna(medians).clip(raw.quantile(0.02), raw.quantile(0.98), axis=1).to_numpy()
    mean, sd = X_raw.mean(axis=0), X_raw.std(axis=0)
    sd[sd == 0] = 1.0
    X = (X_raw - mean) / sd
    rng = np.random.default_rng(options.seed)
    sample = X[rng.choice(len(X), min(len(X), options.fit_sample), replace=False)] if len(X) else X
    previous = saved["groups"] if saved and saved.get("features") == names else []
    prev_centroids = (np.array([[g["centroid"][f] for f in names] for g in previous]) - mean) / sd if previous else None
    k = _choose_k(sample, len(previous) or None, options, rng)
    if len(X) < k:
        k = max(1, len(X))
    init = prev_centroids if prev_centroids is not None and len(prev_centroids) == k else "k-means++"
    model = KMeans(n_clusters=k, init=init, n_init=1 if isinstance(init, np.ndarray) else 10,
                   random_state=options.seed).fit(sample if len(sample) >= k else X)
    labels = model.predict(X) if len(X) else np.array([], dtype=int)
    centroids = model.cluster_centers_
    ids, next_id = _match(centroids, prev_centroids, previous, options.match_distance,
                          saved.get("next_id", 1) if saved else 1)
    population = dict(zip(names, mean)), dict(zip(names, sd))
    groups, taken = [], {g["name"] for g in previous}
    for j, gid in enumerate(ids):
        centroid = dict(zip(names, (centroids[j] * sd + mean).round(4).tolist()))
        old = next((g for g in previous if g["group_id"] == gid), None)
        text = profile(centroid, *population)
        name = old["name"] if old else (text if text not in taken else f"{text} (group {gid})")
        taken.add(name)
        groups.append({"group_id": gid, "name": name, "profile": text,
                       "size": int((labels == j).sum()), "centroid": centroid,
                       "first_seen": old["first_seen"] if old else run_date.isoformat()})
    assignment = pd.Series(np.array(ids)[labels] if len(labels) else [], index=features.index, dtype="Int64")
    state = {"features": names, "k": k, "next_id": next_id,
             "groups": [{key: g[key] for key in ("group_id", "name", "centroid", "first_seen")} for g in groups]}
    return assignment, groups, state


def _choose_k(sample: np.ndarray, previous_k: int | None, options: GroupOptions, rng) -> int:
    """Return k by the silhouette on a sub-sample, keeping ``previous_k`` unless clearly worse."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    if len(sample) < 20:
        return min(previous_k or 2, max(1, len(sample)))
    sub = sample[rng.choice(len(sample), min(len(sample), options.silhouette_sample), replace=False)]
    scores = {}
    for k in range(2, min(options.max_k, len(sub) - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=options.seed).fit_predict(sub)
        if np.bincount(labels).min() >= options.min_group_share * len(sub):
            scores[k] = silhouette_score(sub, labels, random_state=options.seed)
    if not scores:
        return 1
    best = max(scores.values())
    if previous_k in scores and scores[previous_k] >= best - options.keep_k_margin:
        return previous_k
    # The fewest groups whose silhouette is within the margin of the best.
    return min(k for k, s in scores.items() if s >= best - options.keep_k_margin)


def _match(centroids: np.ndarray, previous: np.ndarray | None, saved: list[dict], max_distance: float,
           next_id: int) -> tuple[list[int], int]:
    """Return (a group id per new centroid: the matched saved group's, else a new one never
    used before; the next unused id)."""
    from scipy.optimize import linear_sum_assignment

    ids: list[int | None] = [None] * len(centroids)
    if previous is not None and len(previous):
        distance = np.linalg.norm(centroids[:, None, :] - previous[None, :, :], axis=2)
        for i, j in zip(*linear_sum_assignment(distance)):
            if distance[i, j] <= max_distance:
                ids[i] = saved[j]["group_id"]
    next_id = max([g["group_id"] for g in saved] + [next_id - 1]) + 1
    for i in range(len(ids)):
        if ids[i] is None:
            ids[i], next_id = next_id, next_id + 1
    return ids, next_id


GROUPS_KIND = "learner-groups"


def previous_state(registry, run_date: date) -> dict | None:
    """Return the group state saved by the latest run date strictly before ``run_date``, so
    that a rerun or backfill of a date refits from the same state."""
    best = None
    for version in registry.versions(GROUPS_KIND):
        entry = registry.load(GROUPS_KIND, version)
        saved_for = entry.metadata.get("run_date", "")
        if saved_for < run_date.isoformat() and (best is None or saved_for >= best.metadata["run_date"]):
            best = entry
    return json.loads(best.path("groups.json").read_text()) if best else None


def save_state(registry, state: dict, run_date: date, data_window: dict) -> str:
    """Save a run's group state (its centroids and ids) for later runs; return its version."""
    return registry.save(GROUPS_KIND, {"groups.json": json.dumps(state, sort_keys=True).encode()},
                         {"run_date": run_date.isoformat(), "data_window": data_window, "features": state["features"],
                          "metrics": {"k": state["k"]}}, promote=True).version
