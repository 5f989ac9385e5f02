import pytest

from core.pruners import Pruning, asha_prunes, median_prunes, rungs


def test_the_median_rule_waits_for_its_warm_up_then_prunes_below_the_median():
    others = [[0.5, 0.8], [0.6, 0.85], [0.7, 0.9]]
    # below the median (0.6) at epoch 1, but epoch 1 is the warm-up
    assert not median_prunes([0.55], others, warmup_trials=3, warmup_epochs=1)
    # at epoch 2 the median of the others is 0.85
    assert median_prunes([0.55, 0.80], others, warmup_trials=3, warmup_epochs=1)
    assert not median_prunes([0.55, 0.85], others, warmup_trials=3, warmup_epochs=1)
    # too few trials have reached epoch 2
    assert not median_prunes([0.55, 0.80], others, warmup_trials=4, warmup_epochs=1)
    assert not median_prunes([0.55, 0.80], [[0.5], *others], warmup_trials=4, warmup_epochs=1)


def test_asha_keeps_the_top_share_at_each_rung_and_decides_nowhere_else():
    assert rungs(1, 3, 10) == [1, 3, 9] and rungs(2, 2, 9) == [2, 4, 8] and rungs(4, 2, 4) == []
    assert not asha_prunes([0.1], [], 1, 3)  # the first trial at a rung goes on
    assert asha_prunes([0.1], [[0.5]], 1, 3)  # fewer than 3 there: only the best goes on
    assert not asha_prunes([0.6], [[0.5]], 1, 3)
    six = [[0.1], [0.2], [0.3], [0.4], [0.5]]
    assert not asha_prunes([0.45], six, 1, 3)  # 6 at the rung: the top 2 go on
    assert asha_prunes([0.35], six, 1, 3)
    assert not asha_prunes([0.0, 0.0], [[0.9, 0.9]], 1, 3)  # epoch 2 is not a rung
    assert asha_prunes([0.0, 0.0, 0.5], [[0.9, 0.9, 0.9]], 1, 3)  # epoch 3 is


def test_pruning_settings_are_validated_and_round_trip():
    p = Pruning("asha", min_epochs=2, reduction_factor=4)
    assert Pruning.from_dict(p.to_dict()) == p and Pruning.from_dict(None) == Pruning()
    assert not Pruning().should_prune([0.0], [[1.0]] * 10)
    with pytest.raises(ValueError, match="pruner must be one of"):
        Pruning("hyperband")
    with pytest.raises(ValueError, match="reduction_factor must be an integer >= 2"):
        Pruning("asha", reduction_factor=1)
