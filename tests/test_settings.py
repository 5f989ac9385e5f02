"""One declaration of each setting and its default, read by the command line, the Tune
page and the Python API; presets shared by the Tune page and ``--preset``."""

import pytest

from core.cli import _parser
from core.settings import PRESETS, SETTINGS
from core.space import default_space
from core.store import Store
from core.study import study_config


def run(*argv):
    import io

    from core.cli import main

    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def test_every_setting_is_an_option_of_tune_with_its_default_in_the_help(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["tune", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for setting in SETTINGS.values():
        assert setting.flag in help_text
        assert " ".join(setting.shown().split()) in help_text
    assert "--preset {quick,seed}" in help_text


def test_the_cli_the_api_and_a_bare_config_share_each_default():
    from core.study import StudyConfig

    bare = StudyConfig(name="x")
    built = study_config("x", "mnist-5k", default_space())
    for config in (bare, built):
        assert (config.init_points, config.n_iter) == (5, 7)  # the Quick look preset's
        assert (config.budget.epochs, config.budget.batch_size) == (2, 64)
        assert config.search.acquisition == SETTINGS["acquisition"].default
        assert config.max_retries == SETTINGS["max_retries"].default
    assert built.pruning.kind == SETTINGS["pruner"].default == "asha"
    quick = PRESETS["quick"].values
    assert (quick["init_points"], quick["n_iter"], quick["epochs"]) == (5, 7, 2)


def test_the_random_start_follows_the_dimension_unless_given():
    from core.space import SearchSpace, parse_param

    six = SearchSpace(parse_param(f"p{k}=float:0:1") for k in range(6))
    own = {"model": "pkg.module:build"}  # a user's model: any parameter names
    assert study_config("x", "digits", six, **own).init_points == 7
    assert study_config("x", "digits", six, init_points=3, **own).init_points == 3
    with pytest.raises(ValueError, match="unknown setting 'init_point'"):
        study_config("x", "digits", six, init_point=3, **own)


def test_a_preset_from_the_command_line_and_an_option_beside_it(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    code, _, err = run(
        "tune", "--preset", "seed", "--dataset", "digits", "--init-points", "2",
        "--epochs", "1", "--max-train-samples", "200", "--db", db, "--name", "seeded",
    )  # fmt: skip
    assert code == 0, err
    config = Store(db).load("seeded").config
    assert config.init_points == 2  # given: overrides the preset's 10
    assert config.n_iter == 2 and config.final_test  # the preset's
    assert config.dataset == "digits" and config.budget.batch_size == 64
    assert Store(db).load("seeded").final is not None  # the seed experiment's test evaluation
    with pytest.raises(SystemExit) as exit_:
        run("tune", "--preset", "blog", "--db", db)
    assert exit_.value.code == 2 and "invalid choice: 'blog'" in capsys.readouterr().err


def test_the_command_line_s_random_start_is_one_more_than_the_parameters(tmp_path):
    db = str(tmp_path / "s.db")
    params = ["--param=dense_units=int:8:64", "--param=lr=float:1e-3:1e-2:log",
              "--param=dropout1_rate=float:0.1:0.5", "--param=dropout2_rate=float:0.1:0.5",
              "--param=filters1=int:8:32", "--param=filters2=int:8:32"]  # fmt: skip
    code, _, err = run(
        "tune", "--dataset", "digits", *params, "--n-iter", "0", "--epochs", "1",
        "--max-train-samples", "100", "--pruner", "none", "--db", db, "--name", "six",
    )  # fmt: skip
    assert code == 0, err
    study = Store(db).load("six")
    assert study.config.init_points == 7 and len(study.finished_trials) == 7
