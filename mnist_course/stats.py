"""Tests that fit what a lesson compares: a few seeds per variant, and models scored on the same digits.

- Two variants over seeds: Welch's t-test (no equal-variance assumption), with the difference of
  the means, its 95% confidence interval and p. With 3–5 seeds the t distribution's heavy tails
  matter: a difference of twice its standard error is not significant on 2–4 degrees of freedom.
- Two models on the same test digits: McNemar's exact test on the digits where exactly one of them
  is right (the digits both get right or both get wrong say nothing about which is better).
- One variant's seeds on a chart: the mean with its 95% t-interval.
- Several comparisons in one table: Holm's step-down correction of their p-values.

The distributions come from `scipy.stats`; only Holm's few lines are written here (scipy has no
Holm correction, and statsmodels would be a large dependency for six lines).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from scipy import stats as scipy_stats


@dataclass(frozen=True)
class Welch:
    """`a` minus `b`: the difference of the means, its 95% interval, t, degrees of freedom and p."""

    difference: float
    low: float
    high: float
    t: float
    df: float
    p: float


def welch(a: list[float], b: list[float]) -> Welch:
    """Welch's two-sided t-test of mean(a) − mean(b); each side needs at least two values."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"Welch's test needs at least 2 values on each side, got {len(a)} and {len(b)}")
    result = scipy_stats.ttest_ind(a, b, equal_var=False)
    interval = result.confidence_interval(0.95)
    difference = sum(a) / len(a) - sum(b) / len(b)
    return Welch(difference, float(interval.low), float(interval.high), float(result.statistic),
                 float(result.df), float(result.pvalue))  # fmt: skip


def mean_interval(values: list[float]) -> tuple[float, float, float]:
    """The mean of `values` and the 95% t-interval around it: (mean, low, high). With one value, or
    values without spread, the interval is the mean itself (there is nothing to estimate it from)."""
    mean = sum(values) / len(values)
    if len(values) < 2 or max(values) == min(values):
        return mean, mean, mean
    low, high = scipy_stats.t.interval(0.95, len(values) - 1, loc=mean, scale=scipy_stats.sem(values))
    return mean, float(low), float(high)


@dataclass(frozen=True)
class McNemar:
    """Digits only model A got right, only model B got right, and the exact two-sided p."""

    only_a: int
    only_b: int
    p: float

    def __str__(self) -> str:
        return (f"digits only A got right: {self.only_a}, only B: {self.only_b}; "
                f"McNemar's exact test: p = {self.p:.2g}")  # fmt: skip


def mcnemar(preds_a: torch.Tensor, preds_b: torch.Tensor, labels: torch.Tensor) -> McNemar:
    """McNemar's exact test of two models' predictions on the same digits (same order as `labels`)."""
    if not (preds_a.shape == preds_b.shape == labels.shape):
        raise ValueError(f"predictions and labels must be for the same digits: {preds_a.shape}, {preds_b.shape}, "
                         f"{labels.shape}")  # fmt: skip
    right_a, right_b = preds_a == labels, preds_b == labels
    only_a, only_b = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
    if only_a + only_b == 0:
        return McNemar(0, 0, 1.0)
    p = scipy_stats.binomtest(only_a, only_a + only_b, 0.5).pvalue  # under H0 each discordant digit is a coin flip
    return McNemar(only_a, only_b, float(p))


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the k-th smallest of m is multiplied by
    m − k + 1, and the adjusted values are made non-decreasing (capped at 1)."""
    order = sorted(range(len(pvalues)), key=pvalues.__getitem__)
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted
