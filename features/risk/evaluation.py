"""How good a risk model is: discrimination, calibration and decisions, overall and per week."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ece(labels, probabilities, bins: int = 10) -> float:
    """Return the expected calibration error over ``bins`` equal-width probability bins."""
    y, p = np.asarray(labels, float), np.asarray(probabilities, float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(total)


METRIC_NAMES = ("auc", "pr_auc", "brier", "ece", "mcc")


def auc(labels, probabilities) -> float:
    """Return the ROC-AUC, NaN when one class is missing."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels, int)
    return float(roc_auc_score(y, probabilities)) if 0 < y.sum() < len(y) else float("nan")


def brier(labels, probabilities) -> float:
    """Return the Brier score (mean squared error of the probabilities), NaN when empty."""
    y, p = np.asarray(labels, float), np.asarray(probabilities, float)
    return float(np.mean((p - y) ** 2)) if len(y) else float("nan")


def metrics(labels, probabilities, threshold: float) -> dict:
    """Return ROC-AUC, PR-AUC (average precision), Brier, ECE (10 bins) and MCC at
    ``threshold``, with the counts; AUCs are NaN when one class is missing."""
    from sklearn.metrics import average_precision_score, matthews_corrcoef

    y, p = np.asarray(labels, int), np.asarray(probabilities, float)
    both = 0 < y.sum() < len(y)
    return {"n": int(len(y)), "positives": int(y.sum()),
            "auc": auc(y, p),
            "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
            "brier": brier(y, p),
            "ece": ece(y, p) if len(y) else float("nan"),
            "mcc": float(matthews_corrcoef(y, p >= threshold)) if len(y) else float("nan")}


def best_threshold(labels, probabilities) -> float:
    """Return the probability threshold with the best MCC (candidates: the probabilities'
    percentiles), for bands and decisions; chosen on the calibration slice only."""
    from sklearn.metrics import matthews_corrcoef

    y, p = np.asarray(labels, int), np.asarray(probabilities, float)
    candidates = np.unique(np.percentile(p, np.arange(1, 100)))
    scores = [matthews_corrcoef(y, p >= t) for t in candidates]
    return float(candidates[int(np.argmax(scores))]) if len(candidates) else 0.5


def by_week(frame: pd.DataFrame, threshold: float) -> list[dict]:
    """Return ``metrics`` per snapshot week (ISO year-week of ``snapshot``) of a frame with
    ``snapshot``, ``label`` and ``probability``."""
    week = pd.to_datetime(frame["snapshot"]).dt.strftime("%G-W%V")
    return [{"week": w, **metrics(part["label"], part["probability"], threshold)}
            for w, part in frame.groupby(week, sort=True)]


def reliability(labels, probabilities, bins: int = 10) -> list[dict]:
    """Return per decile of the predicted probability: mean predicted, observed rate, count."""
    frame = pd.DataFrame({"y": np.asarray(labels, float), "p": np.asarray(probabilities, float)})
    frame["decile"] = pd.qcut(frame["p"].rank(method="first"), bins, labels=False)
    return [{"decile": int(d) + 1, "predicted": round(float(g["p"].mean()), 4), "observed": round(float(g["y"].mean()), 4),
             "n": int(len(g))} for d, g in frame.groupby("decile")]
