"""Exact TreeSHAP (path-dependent, as ``shap.TreeExplainer`` computes it) for a fitted
scikit-learn ``HistGradientBoostingClassifier``.

A leaf's share of the expected output given the features in S is its value times, for each
distinct feature j on its path, ``o_j`` (1 when the row takes the leaf's side at every split
on j, else 0) if j is in S, else ``z_j`` (the product of the training-cover fractions of those
splits). That term involves only the path's d distinct features, so its Shapley values are
those of a d-player game, and since every ``o_j`` is 0 or 1 they depend on the row only
through the path's bit pattern: one table of 2**d x d values per leaf, computed once per model,
looked up per row in a compiled loop. shap walks every tree for every row instead (about
140 us per row for 100 depth-4 trees here, against about 20 us for the lookup).
Leaves with more than ``MAX_PATH_FEATURES`` distinct features (deep trees) are not tabulated:
``shapley_values`` then hands the model to shap.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from math import factorial

import numpy as np
from numba import njit, prange

MAX_PATH_FEATURES = 8
_BLOCK = 1024  # rows per parallel work item
# numba's fallback threading layer (workqueue) must not run two parallel kernels at once, and
# a run's tasks are threads
_ONE_AT_A_TIME = threading.Lock()


@lru_cache(maxsize=None)
def _subset_tables(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For d players: bits[p, j] (player j in bitmask p), contains[p, s] (s is a subset of p),
    weight[s] (the Shapley weight |s|!(d-|s|-1)!/d!, for sets without the player), and
    without[s, i] (player i not in s)."""
    masks = np.arange(2**d)
    bits = (masks[:, None] >> np.arange(d)) & 1
    contains = (masks[:, None] & masks[None, :]) == masks[None, :]
    size = bits.sum(axis=1)
    weight = np.array([factorial(k) * factorial(d - k - 1) / factorial(d) if k < d else 0.0 for k in size])
    return bits.astype(float), contains.astype(float), weight, 1.0 - bits


def _leaf_table(value: float, zero: np.ndarray) -> np.ndarray:
    """Return the 2**d x d Shapley values of one leaf's term, per bit pattern of the path's d
    features (``zero``: their cover fractions)."""
    d = len(zero)
    bits, contains, weight, without = _subset_tables(d)
    # for each subset s and player i not in s: the product of z over the players neither in s nor i
    absent = np.where(bits > 0, 1.0, zero[None, :])  # z_j where j is not in s, else 1
    others = np.broadcast_to(absent[:, None, :], (len(absent), d, d)).copy()
    others[:, np.arange(d), np.arange(d)] = 1.0
    product = others.prod(axis=2)
    summed = contains @ (weight[:, None] * product * without)
    return value * (bits - zero[None, :]) * summed


class TreeTables:
    """Every split and every leaf of every tree, flattened into arrays for ``_accumulate``:
    each split's feature, threshold and where missing values go; per leaf, its path (the split,
    the side the leaf is on, the position of the split's feature among the path's distinct
    features), those features, and its table."""

    def __init__(self, gbm) -> None:
        splits, path_steps, leaves, features, tables = [], [], [], [], []
        table_start = 0
        for (predictor,) in gbm._predictors:
            nodes = predictor.nodes
            stack = [(0, ())]
            while stack:
                i, path = stack.pop()
                node = nodes[i]
                if not node["is_leaf"]:
                    splits.append((node["feature_idx"], node["num_threshold"], node["missing_go_to_left"]))
                    for child, left in ((int(node["left"]), True), (int(node["right"]), False)):
                        step = (len(splits) - 1, int(node["feature_idx"]), left, nodes[child]["count"] / node["count"])
                        stack.append((child, path + (step,)))
                    continue
                distinct = sorted({f for _, f, _, _ in path})
                if len(distinct) > MAX_PATH_FEATURES:
                    raise ValueError(f"a leaf with {len(distinct)} distinct features on its path")
                zero = np.ones(len(distinct))
                for split, f, left, fraction in path:
                    position = distinct.index(f)
                    zero[position] *= fraction
                    path_steps.append((split, left, position))
                leaves.append((len(path_steps), len(features), table_start, len(distinct)))
                features.extend(distinct)
                tables.append(_leaf_table(float(node["value"]), zero).ravel())
                table_start += tables[-1].size
        split = np.array(splits, dtype=float).reshape(-1, 3)
        self.feature, self.threshold = split[:, 0].astype(np.int64), split[:, 1].copy()
        self.missing_left = split[:, 2].astype(np.int64)
        self.steps = np.array(path_steps, dtype=np.int64).reshape(-1, 3)  # split, leaf on its left, position
        self.leaves = np.array(leaves, dtype=np.int64).reshape(-1, 4)  # steps end, features start, table start, d
        self.features = np.array(features, dtype=np.int64)
        self.tables = np.concatenate(tables) if tables else np.zeros(0)

    def shapley_values(self, values: np.ndarray) -> np.ndarray:
        """Return the rows' Shapley values (rows x features) of the trees' log-odds."""
        phi = np.zeros(values.shape, dtype=float)
        with _ONE_AT_A_TIME:
            _accumulate(np.ascontiguousarray(values, dtype=float), self.feature, self.threshold, self.missing_left,
                        self.steps, self.leaves, self.features, self.tables, phi)
        return phi


@njit(cache=True, parallel=True)
def _accumulate(values, feature, threshold, missing_left, steps, leaves, features, tables, phi):
    n = values.shape[0]
    for block in prange((n + _BLOCK - 1) // _BLOCK):  # blocks of rows over the cores
        goes_left = np.empty(len(feature), dtype=np.int64)
        for r in range(block * _BLOCK, min(n, (block + 1) * _BLOCK)):
            for s in range(len(feature)):  # each split once per row; the leaves' patterns reuse them
                x = values[r, feature[s]]
                goes_left[s] = missing_left[s] if np.isnan(x) else np.int64(x <= threshold[s])
            start = 0
            for leaf in range(leaves.shape[0]):
                end, first, table, d = leaves[leaf, 0], leaves[leaf, 1], leaves[leaf, 2], leaves[leaf, 3]
                pattern = (1 << d) - 1
                for k in range(start, end):
                    pattern &= ~((goes_left[steps[k, 0]] ^ steps[k, 1]) << steps[k, 2])
                start = end
                row = table + pattern * d
                for j in range(d):
                    phi[r, features[first + j]] += tables[row + j]


def shapley_values(gbm, values: np.ndarray) -> np.ndarray:
    """Exact TreeSHAP contributions of each feature to the trees' log-odds, per row of
    ``values`` (the same as ``shap.TreeExplainer(gbm).shap_values(values)``)."""
    try:
        tables = TreeTables(gbm)
    except ValueError:  # paths too deep to tabulate
        import shap

        return np.asarray(shap.TreeExplainer(gbm).shap_values(values))
    return tables.shapley_values(values)
