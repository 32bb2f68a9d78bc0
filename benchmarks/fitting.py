"""The one model fitter of the benchmarks: L2-regularised logistic regression by Newton's method,
shared by the answer ranker (`answers.py`) and the passage re-ranker (`rerank.py`)."""

from __future__ import annotations

import numpy as np


def newton_logistic(z: np.ndarray, y: np.ndarray, weight: np.ndarray, penalty: np.ndarray,
                    steps: int = 50, tolerance: float = 1e-8) -> np.ndarray:
    """Weights `w` minimising Σ weight · logloss(sigmoid(z @ w), y) + ½ Σ penalty · w²."""
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        step = np.linalg.solve((z * (weight * p * (1 - p))[:, None]).T @ z + np.diag(penalty),
                               z.T @ (weight * (p - y)) + penalty * w)
        w -= step
        if np.abs(step).max() < tolerance:
            break
    return w
