"""Drivers' Shapley values: the per-leaf tables give the values shap's TreeExplainer gives, for
rows with missing values too, and add up to the trees' log-odds less the average."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from features.risk import treeshap


def fitted(depth: int | None, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3000, 6))
    X[rng.random(X.shape) < 0.1] = np.nan  # the trees learn where missing values go
    logit = 1.5 * np.nan_to_num(X[:, 0]) - np.nan_to_num(X[:, 1]) * np.nan_to_num(X[:, 2]) + 0.5 * np.isnan(X[:, 3])
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-logit))).astype(int)
    gbm = HistGradientBoostingClassifier(max_depth=depth, max_iter=40, max_leaf_nodes=31, early_stopping=False,
                                         random_state=seed).fit(X, y)
    return gbm, X[:500]


@pytest.mark.parametrize("depth", [1, 4, 6])
def test_the_tables_give_shaps_values_and_sum_to_the_log_odds(depth):
    import shap

    gbm, rows = fitted(depth)
    explainer = shap.TreeExplainer(gbm)
    ours = treeshap.shapley_values(gbm, rows)
    np.testing.assert_allclose(ours, explainer.shap_values(rows), atol=1e-9)
    np.testing.assert_allclose(ours.sum(axis=1) + explainer.expected_value, gbm.decision_function(rows), atol=1e-9)


def test_paths_too_deep_to_tabulate_go_to_shap(monkeypatch):
    import shap

    gbm, rows = fitted(6)
    monkeypatch.setattr(treeshap, "MAX_PATH_FEATURES", 2)
    with pytest.raises(ValueError, match="distinct features"):
        treeshap.TreeTables(gbm)
    np.testing.assert_allclose(treeshap.shapley_values(gbm, rows), shap.TreeExplainer(gbm).shap_values(rows),
                               atol=1e-9)
