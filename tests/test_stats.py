"""bench/stats.py on cases whose answer is known."""

import numpy as np
import pytest

from bench.stats import bootstrap_mean, holm, wilcoxon, wilson


def test_wilson_matches_the_published_interval():
    # 8 of 10: 0.490 to 0.943 (Newcombe 1998, table I)
    assert wilson(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson(0, 10)[0] == pytest.approx(0.0) and wilson(10, 10)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="n must be at least 1"):
        wilson(0, 0)


def test_a_paired_test_finds_a_known_shift_and_not_a_missing_one():
    rng = np.random.default_rng(0)
    base = rng.normal(0.0, 1.0, 60)
    noise = rng.normal(0.0, 0.3, 60)
    assert wilcoxon(base + 0.3 + noise, base) < 0.01  # shifted by 0.3, pairs vary by 0.3
    assert wilcoxon(base + noise, base) > 0.05
    assert wilcoxon(base, base) == 1.0


def test_the_bootstrap_interval_of_a_mean_difference_holds_the_shift():
    rng = np.random.default_rng(1)
    shifted = rng.normal(0.5, 1.0, 400)
    low, high = bootstrap_mean(shifted)
    assert 0 < low < 0.5 < high
    low, high = bootstrap_mean(rng.normal(0.0, 1.0, 400))
    assert low < 0 < high


def test_holm_adjusts_step_down_and_keeps_the_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert holm([0.2, 0.9]) == pytest.approx([0.4, 0.9])
