import csv
import io
import json

import pytest

from core import export
from core.runner import Registry


@pytest.fixture
def finished(store, tiny_config, digits, tmp_path):
    Registry(store, runs_dir=tmp_path).create(tiny_config(), dataset=digits).join(120)
    return store.load("tiny")


def test_best_params_json_has_the_documented_shape(finished):
    data = json.loads(export.best_params_json(finished))
    best = finished.best_trial
    assert data["params"] == best.params
    assert set(data["params"]) == {"dropout2_rate", "lr"}
    assert data["val_accuracy"] == best.value
    assert data["test_accuracy"] is None
    assert data["study"] == "tiny" and data["dataset"] == "digits" and data["trials"] == 4


def test_trials_csv_has_a_row_per_trial(finished):
    rows = list(csv.DictReader(io.StringIO(export.trials_csv(finished))))
    assert [int(r["number"]) for r in rows] == [1, 2, 3, 4]
    assert all(r["status"] == "complete" for r in rows)
    assert float(rows[0]["val_accuracy"]) == finished.trials[0].value
    assert float(rows[0]["lr"]) == finished.trials[0].params["lr"]


def test_optimizer_state_can_seed_bayes_opt_elsewhere(finished, tmp_path):
    from bayes_opt import BayesianOptimization, acquisition

    state = export.optimizer_state(finished)
    assert len(state["target"]) == 4
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    other = BayesianOptimization(
        None,
        {k: (0.0, 1.0) for k in state["keys"]},
        acquisition_function=acquisition.ExpectedImprovement(xi=0.01),
        verbose=0,
    )
    other.load_state(path)
    assert len(other.space) == 4
    assert other.max["target"] == finished.best_trial.value


def test_optimizer_state_is_refused_for_random_studies(store, tiny_config):
    store.create_study(tiny_config(optimizer="random"))
    with pytest.raises(ValueError, match="only for bayes studies"):
        export.optimizer_state(store.load("tiny"))
