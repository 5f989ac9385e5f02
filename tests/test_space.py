import math
import re

import numpy as np
import pytest

from core.space import Param, SearchSpace, default_space


def test_default_space_is_the_seeds_with_lr_on_a_log_scale():
    space = default_space()
    assert space.names == ["dropout2_rate", "lr"]
    assert space["dropout2_rate"] == Param("dropout2_rate", 0.1, 0.5, log=False)
    assert space["lr"] == Param("lr", 1e-4, 1e-2, log=True)


def test_unit_cube_round_trip():
    space = default_space()
    for values in ({"dropout2_rate": 0.1, "lr": 1e-4}, {"dropout2_rate": 0.37, "lr": 3.3e-3}):
        back = space.from_unit(space.to_unit(values))
        for name, value in values.items():
            assert math.isclose(back[name], value, rel_tol=1e-12)


def test_log_axis_puts_the_geometric_middle_at_half():
    lr = default_space()["lr"]
    assert lr.to_unit(1e-3) == pytest.approx(0.5)
    assert lr.from_unit(0.5) == pytest.approx(1e-3)


def test_from_unit_clips_to_bounds():
    lr = default_space()["lr"]
    assert lr.from_unit(-0.5) == 1e-4
    assert lr.from_unit(1.5) == 1e-2


def test_linspace_is_even_on_the_parameters_own_scale():
    values = default_space()["lr"].linspace(3)
    np.testing.assert_allclose(values, [1e-4, 1e-3, 1e-2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(name="lr", low=1e-2, high=1e-4), "lr: low (0.01) must be smaller than high"),
        (dict(name="lr", low=1e-3, high=1e-3), "must be smaller than high"),
        (dict(name="lr", low=float("nan"), high=1.0), "lr: low must be a finite number"),
        (dict(name="lr", low=0.0, high=float("inf")), "lr: high must be a finite number"),
        (dict(name="lr", low=0.0, high=1e-2, log=True), "log-scale parameter needs low > 0"),
        (dict(name="lr", low=-1.0, high=1e-2, log=True), "log-scale parameter needs low > 0"),
        (dict(name="dropout2_rate", low=0.1, high=1.0), "dropout rate must lie in [0, 1)"),
        (dict(name="dropout2_rate", low=-0.1, high=0.5), "dropout rate must lie in [0, 1)"),
        (dict(name="lr", low="a", high=1.0), "lr: low must be a number"),
    ],
)
def test_bad_bounds_name_the_parameter_and_the_rule(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Param(**kwargs)


def test_space_rejects_duplicate_names_and_emptiness():
    with pytest.raises(ValueError, match="unique"):
        SearchSpace([Param("a", 0, 1), Param("a", 0, 2)])
    with pytest.raises(ValueError, match="at least one parameter"):
        SearchSpace([])


def test_space_serialises_to_plain_data_and_back():
    space = default_space((0.2, 0.4), (1e-5, 1e-1))
    assert SearchSpace.from_dict(space.to_dict()) == space
