"""The statistics against textbook examples, computed independently of scipy where possible."""

import math

import pytest
import torch

from mnist_course import stats


def test_welch_matches_the_formula_and_the_textbook_example():
    # Welch's t-test example (two samples of 15 with unequal variances): t = -2.46, df = 25.0, p = 0.021.
    a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
    b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]
    result = stats.welch(a, b)

    def var(x):
        m = sum(x) / len(x)
        return sum((v - m) ** 2 for v in x) / (len(x) - 1)

    se2 = var(a) / len(a) + var(b) / len(b)
    t = (sum(a) / len(a) - sum(b) / len(b)) / math.sqrt(se2)
    df = se2**2 / ((var(a) / len(a)) ** 2 / (len(a) - 1) + (var(b) / len(b)) ** 2 / (len(b) - 1))
    assert result.t == pytest.approx(t) and result.df == pytest.approx(df)
    assert result.t == pytest.approx(-2.46, abs=0.01) and result.df == pytest.approx(25.0, abs=0.1)
    assert result.p == pytest.approx(0.021, abs=0.001)
    assert result.low < result.difference < result.high < 0  # the interval excludes 0 when p < 0.05


def test_welch_needs_two_values_a_side():
    with pytest.raises(ValueError, match="at least 2"):
        stats.welch([0.99], [0.99, 0.98])


def test_mcnemar_counts_only_the_digits_where_the_models_disagree():
    labels = torch.tensor([1, 2, 3, 4, 5, 6, 7])
    a = torch.tensor([1, 2, 3, 0, 0, 0, 7])  # right on 0, 1, 2, 6
    b = torch.tensor([1, 0, 0, 0, 0, 6, 7])  # right on 0, 5, 6
    result = stats.mcnemar(a, b, labels)
    assert (result.only_a, result.only_b) == (2, 1)
    assert str(result) == "digits only A got right: 2, only B: 1; McNemar's exact test: p = 1"
    # exact two-sided binomial: P(X <= 1) + P(X >= 2) for X ~ Bin(3, 1/2) = 1
    assert result.p == pytest.approx(1.0)


def test_mcnemar_exact_p_against_the_binomial_sum():
    # 12 digits only A gets right, 2 only B: two-sided p = 2 * P(X <= 2), X ~ Bin(14, 1/2)
    labels = torch.zeros(20, dtype=torch.long)
    a, b = labels.clone(), labels.clone()
    b[:12] = 1  # A right, B wrong
    a[12:14] = 1  # B right, A wrong
    expected = 2 * sum(math.comb(14, k) for k in range(3)) / 2**14
    assert stats.mcnemar(a, b, labels).p == pytest.approx(expected)
    with pytest.raises(ValueError, match="same digits"):
        stats.mcnemar(a[:5], b, labels)


def test_holm_adjusts_in_steps_and_keeps_the_order():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> made non-decreasing
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_mean_interval_is_the_textbook_t_interval():
    # 1..5: mean 3, standard error sqrt(2.5 / 5), t(0.975, 4 df) = 2.776 -> 3 ± 1.963
    mean, low, high = stats.mean_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert mean == 3.0 and low == pytest.approx(3 - 1.963, abs=1e-3) and high == pytest.approx(3 + 1.963, abs=1e-3)
    assert stats.mean_interval([0.99]) == (0.99, 0.99, 0.99)  # one value: nothing to estimate a spread from
    assert stats.mean_interval([0.99, 0.99]) == (0.99, 0.99, 0.99)
