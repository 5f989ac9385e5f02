import json
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
        (dict(name="lr", low="a", high=1.0), "lr: low must be a number"),
    ],
)
def test_bad_bounds_name_the_parameter_and_the_rule(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Param(**kwargs)


@pytest.mark.parametrize(("low", "high"), [(0.1, 1.0), (-0.1, 0.5)])
def test_a_dropout_rate_outside_0_1_is_the_cnns_rule_not_the_spaces(low, high):
    from core.model import check_cnn_space

    with pytest.raises(ValueError, match=re.escape("dropout2_rate: a dropout rate must lie in")):
        check_cnn_space(SearchSpace([Param("dropout2_rate", low, high)]))
    assert Param("dropout2_rate", low, high).high == high  # a user's model may mean else


def test_each_kind_is_its_own_class_and_survives_a_pickle():
    import pickle

    from core.space import CategoricalParam, FloatParam, IntParam

    params = [Param("lr", 1e-4, 1e-2, log=True), Param("b", 16, 512, True, "int"),
              Param("opt", kind="categorical", choices=("adam", "sgd"))]  # fmt: skip
    assert [type(p) for p in params] == [FloatParam, IntParam, CategoricalParam]
    assert IntParam("b", 16, 512, log=True) == params[1]
    assert pickle.loads(pickle.dumps(params)) == params
    with pytest.raises(ValueError, match="x: type must be one of float, int, categorical"):
        Param("x", kind="bool")


def test_space_rejects_duplicate_names_and_emptiness():
    with pytest.raises(ValueError, match="unique"):
        SearchSpace([Param("a", 0, 1), Param("a", 0, 2)])
    with pytest.raises(ValueError, match="at least one parameter"):
        SearchSpace([])


def test_space_serialises_to_plain_data_and_back():
    space = default_space((0.2, 0.4), (1e-5, 1e-1))
    assert SearchSpace.from_dict(space.to_dict()) == space


# -- typed parameters ------------------------------------------------------------------------

MIXED = SearchSpace(
    [
        Param("lr", 1e-4, 1e-2, log=True),
        Param("units", 32, 512, kind="int"),
        Param("batch_size", 16, 512, log=True, kind="int"),
        Param("optimizer", kind="categorical", choices=("adam", "sgd", "rmsprop")),
    ]
)


def test_each_type_round_trips_through_the_unit_cube_with_its_type():
    assert MIXED.width == 1 + 1 + 1 + 3
    assert MIXED.columns[-3:] == ["optimizer=adam", "optimizer=sgd", "optimizer=rmsprop"]
    rng = np.random.default_rng(0)
    for u in rng.random((200, MIXED.width)):
        values = MIXED.from_unit(u)
        assert type(values["units"]) is int and 32 <= values["units"] <= 512
        assert values["batch_size"] in (16, 32, 64, 128, 256, 512)
        assert values["optimizer"] in ("adam", "sgd", "rmsprop")
        assert isinstance(values["lr"], float)
        again = MIXED.from_unit(MIXED.to_unit(values))
        assert again["units"] == values["units"] and again["optimizer"] == values["optimizer"]
        assert again["batch_size"] == values["batch_size"]
        assert math.isclose(again["lr"], values["lr"], rel_tol=1e-12)


def test_uniform_draws_pick_every_discrete_value_equally_often():
    space = SearchSpace(
        [
            Param("b", 16, 128, log=True, kind="int"),
            Param("o", kind="categorical", choices=("a", "b", "c")),
        ]
    )
    draws = [space.from_unit(u) for u in np.random.default_rng(1).random((6000, space.width))]
    for name, levels in (("b", (16, 32, 64, 128)), ("o", ("a", "b", "c"))):
        counts = [sum(d[name] == v for d in draws) for v in levels]
        assert min(counts) > 0.85 * 6000 / len(levels), counts


def test_snap_puts_a_point_at_its_values_canonical_coordinates():
    u = np.array([0.3, 0.001, 0.99, 0.2, 0.7, 0.1])
    snapped = MIXED.snap(u)
    assert snapped[0] == 0.3  # a float stays
    np.testing.assert_allclose(snapped, MIXED.to_unit(MIXED.from_unit(u)))
    np.testing.assert_allclose(snapped[3:], [0, 1, 0])
    np.testing.assert_allclose(MIXED.snap(snapped), snapped)


def test_typed_spaces_serialise_with_their_types():
    data = MIXED.to_dict()
    assert data[1] == {"name": "units", "low": 32, "high": 512, "log": False, "type": "int"}
    assert data[3] == {
        "name": "optimizer",
        "type": "categorical",
        "choices": ["adam", "sgd", "rmsprop"],
    }
    assert SearchSpace.from_dict(data) == MIXED
    assert SearchSpace.from_dict([{"name": "x", "low": 0, "high": 1}]) == SearchSpace(
        [Param("x", 0.0, 1.0)]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(name="units", low=32.5, high=64, kind="int"),
            "units: an int parameter needs whole-number bounds",
        ),
        (
            dict(name="batch", low=20, high=512, log=True, kind="int"),
            "batch: a log2 int parameter takes powers of two, and its low (20)",
        ),
        (
            dict(name="o", kind="categorical", choices=("adam",)),
            "o: a categorical parameter needs at least 2 choices",
        ),
        (
            dict(name="o", kind="categorical", choices=("adam", "adam")),
            "o: choices must be distinct",
        ),
        (
            dict(name="o", kind="categorical", choices=("a", None)),
            "o: each choice must be a string, a number",
        ),
        (dict(name="x", kind="complex"), "x: type must be one of float, int, categorical"),
    ],
)
def test_bad_typed_parameters_name_the_parameter_and_the_rule(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Param(**kwargs)


def test_the_one_line_form_of_each_type():
    from core.space import parse_param

    assert parse_param("lr=float:1e-4:1e-2:log") == Param("lr", 1e-4, 1e-2, log=True)
    assert parse_param("lr=1e-4:1e-2") == Param("lr", 1e-4, 1e-2)
    assert parse_param("units=int:32:512") == Param("units", 32, 512, kind="int")
    assert parse_param("batch_size=int:16:512:log2") == Param(
        "batch_size", 16, 512, log=True, kind="int"
    )
    assert parse_param("opt=cat:adam,sgd") == Param(
        "opt", kind="categorical", choices=("adam", "sgd")
    )
    assert parse_param("k=cat:1,3,5").choices == (1, 3, 5)
    for bad, message in (
        ("lr", "expected NAME=float:LOW:HIGH"),
        ("lr=float:a:1", "lr: low must be a number"),
        ("n=int:1:inf", "n: high must be a finite number"),
        ("lr=float:1e-4:1e-2:log2", "log2 is for int parameters"),
        ("o=cat:", "expected o=cat:A,B,C"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_param(bad)


def test_a_space_file_in_toml_and_json(tmp_path):
    from core.space import load_space_file

    toml = tmp_path / "space.toml"
    toml.write_text(
        "[lr]\nlow = 1e-4\nhigh = 1e-2\nlog = true\n\n"
        '[units]\ntype = "int"\nlow = 32\nhigh = 512\n\n'
        '[batch_size]\ntype = "int"\nlow = 16\nhigh = 512\nlog = true\n\n'
        '[optimizer]\ntype = "categorical"\nchoices = ["adam", "sgd", "rmsprop"]\n'
    )
    assert load_space_file(toml) == MIXED
    js = tmp_path / "space.json"
    js.write_text(json.dumps(MIXED.to_dict()))
    assert load_space_file(js) == MIXED
    for text, message in (
        ("[lr]\nlow = 1\n", "lr: high is missing"),
        ("[lr]\nlow = 1\nhigh = 2\nlg = true\n", "lr: unknown setting 'lg'"),
        ("[lr\n", "is not valid"),
        (
            '[o]\ntype = "categorical"\nchoices = ["a"]\n',
            "o: a categorical parameter needs at least 2",
        ),
    ):
        toml.write_text(text)
        with pytest.raises(ValueError, match=re.escape(message)):
            load_space_file(toml)
    with pytest.raises(ValueError, match="does not exist"):
        load_space_file(tmp_path / "nope.toml")
