"""Statistics shared by every evaluation: bootstrap intervals, correlation, recall."""

from __future__ import annotations

from typing import Callable

import numpy as np


def bootstrap_ci(stat: Callable[..., float], *arrays, n: int = 1000, seed: int = 0,
                 groups=None) -> tuple[float, float]:
    """Return the 95% percentile bootstrap interval of ``stat(*arrays)``.

    Rows are resampled with replacement; with ``groups`` (one label per row) whole groups
    are resampled instead (e.g. speakers or learners), so rows of one group stay together.
    """
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a) for a in arrays]
    size = len(arrays[0])
    members = None
    if groups is not None:
        labels = np.asarray(groups)
        members = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    values = []
    for _ in range(n):
        if members is None:
            idx = rng.integers(0, size, size)
        else:
            idx = np.concatenate([members[k] for k in rng.integers(0, len(members), len(members))])
        values.append(stat(*(a[idx] for a in arrays)))
    lo, hi = np.nanpercentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def pearson(a, b) -> float:
    """Return the Pearson correlation of two arrays (NaN when either is constant)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def uar(y_true, y_pred) -> float:
    """Return the unweighted average recall (mean of per-class recalls)."""
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y_true, y_pred))


def difference_ci(a, b) -> tuple[float, float, float]:
    """Return mean(a) - mean(b) and its 95% normal-approximation interval (for 0/1 values, the
    Wald interval of a difference in proportions); NaN where either side is empty."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if not len(a) or not len(b):
        return float("nan"), float("nan"), float("nan")
    diff = float(a.mean() - b.mean())
    se = float(np.sqrt(a.var() / len(a) + b.var() / len(b)))
    return diff, diff - 1.96 * se, diff + 1.96 * se
