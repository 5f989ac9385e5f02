import dataclasses
import math

import numpy as np
import pytest

from core.model import build_model
from core.trainer import Budget, train_final, train_trial

PARAMS = {"dropout2_rate": 0.2, "lr": 3e-3}


def test_a_real_two_epoch_training_reports_each_epoch(digits):
    seen = []
    out = train_trial(digits, PARAMS, Budget(epochs=2, batch_size=32), seed=1, on_epoch=seen.append)
    assert out.status == "complete" and out.error is None
    assert [m.epoch for m in seen] == [1, 2]
    assert out.history == seen
    assert out.value == seen[-1].val_accuracy
    assert out.value > 0.5  # learns far beyond chance (0.1) in two epochs
    assert all(m.seconds > 0 and math.isfinite(m.val_loss) for m in seen)


def test_same_seed_same_result(digits):
    budget = Budget(epochs=1, batch_size=64)
    a = train_trial(digits, PARAMS, budget, seed=7)
    b = train_trial(digits, PARAMS, budget, seed=7)
    assert a.value == pytest.approx(b.value, abs=1e-6)


def test_model_uses_cross_entropy_and_the_requested_learning_rate():
    model = build_model((28, 28, 1), 10, 0.3, 1e-3)
    assert "sparse_categorical_crossentropy" in str(model.loss)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert model.get_layer("dropout_2").rate == pytest.approx(0.3)
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize("model", [None, "user"])
def test_a_trials_model_creates_no_variable_while_it_trains(digits, model):
    """Its optimizer's slots and its metrics' totals exist before the first step: a
    variable created inside the traced step would make TensorFlow trace it twice, a second
    of every short trial."""
    import keras
    import tensorflow as tf

    from core.model import fresh_model

    def users(params, input_shape, n_classes):  # compiled by its author, with RMSprop
        net = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                                keras.layers.Dense(n_classes, activation="softmax")])  # fmt: skip
        net.compile(
            optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return net

    net = fresh_model(users if model else None, PARAMS, digits.input_shape, digits.num_classes)
    assert len(net.optimizer.variables) > 2  # its slots, beside the step count and the rate
    created = []

    def creator(next_creator, **kwargs):
        created.append(kwargs.get("name"))
        return next_creator(**kwargs)

    with tf.variable_creator_scope(creator):
        history = net.fit(digits.x_train[:64], digits.y_train[:64], batch_size=32, epochs=1,
                          validation_data=(digits.x_val, digits.y_val), verbose=0)  # fmt: skip
    assert created == []
    # the blank image that built the metrics left nothing in them: a fresh count per epoch
    assert net.evaluate(digits.x_val, digits.y_val, verbose=0, return_dict=True)[
        "accuracy"
    ] == pytest.approx(history.history["val_accuracy"][-1])


def test_model_refuses_images_smaller_than_8x8():
    with pytest.raises(ValueError, match="at least 8x8"):
        build_model((7, 7, 1), 10, 0.3, 1e-3)


def test_cancel_is_honoured_at_the_next_batch(digits):
    calls = {"n": 0}

    def stop_after_three_checks():
        calls["n"] += 1
        return calls["n"] > 3

    out = train_trial(
        digits, PARAMS, Budget(epochs=5, batch_size=16), should_stop=stop_after_three_checks
    )
    assert out.status == "cancelled" and out.value is None
    assert out.history == []  # stopped inside the first epoch
    assert calls["n"] == 4


def test_a_diverging_trial_fails_with_its_reason(digits):
    out = train_trial(digits, {"dropout2_rate": 0.2, "lr": 1e7}, Budget(epochs=2, batch_size=32))
    assert out.status == "failed" and out.value is None
    assert "diverged" in out.error


def test_training_sample_cap_and_bad_batch(digits):
    with pytest.raises(ValueError, match="batch_size \\(512\\) is larger than the training data"):
        train_trial(digits, PARAMS, Budget(epochs=1, batch_size=512, max_train_samples=100))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(epochs=0), "epochs must be an integer >= 1"),
        (dict(batch_size=0), "batch_size must be an integer >= 1"),
        (dict(epochs=2.5), "epochs must be an integer"),
        (dict(max_train_samples=0), "max_train_samples must be an integer >= 1"),
    ],
)
def test_bad_budgets_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Budget(**kwargs)


def test_final_retrain_evaluates_once_on_test(digits):
    result = train_final(digits, PARAMS, Budget(epochs=1, batch_size=64), seed=1)
    assert 0.3 < result.test_accuracy <= 1.0
    probs = result.model.predict(digits.x_test[:4], verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)


def test_a_trial_that_learned_nothing_fails_with_its_reason(digits):
    # blank validation images: the network gives every one the same answer, so it can score
    # no better than always answering the most common class
    blank = dataclasses.replace(digits, x_val=np.zeros_like(digits.x_val))
    out = train_trial(blank, PARAMS, Budget(epochs=1, batch_size=32))
    assert out.status == "failed" and out.value is None
    assert out.error.startswith("learned nothing: validation accuracy ")
    assert f"({digits.baseline_accuracy():.3f})" in out.error
    assert len(out.history) == 1  # its learning curve is kept
    fine = train_trial(digits, PARAMS, Budget(epochs=1, batch_size=32))
    assert fine.status == "complete" and fine.value > digits.baseline_accuracy()


def test_max_train_samples_caps_what_each_trial_trains_on(digits, monkeypatch):
    import keras

    seen = []
    real_fit = keras.Model.fit

    def spy_fit(self, x, y, *args, **kwargs):
        seen.append(len(x))
        return real_fit(self, x, y, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy_fit)
    capped = Budget(epochs=1, batch_size=50, max_train_samples=300)
    assert train_trial(digits, PARAMS, capped, seed=1).status == "complete"
    assert train_trial(digits, PARAMS, Budget(epochs=1, batch_size=50), seed=1).value is not None
    assert seen == [300, len(digits.y_train)]
    with pytest.raises(ValueError, match=r"batch_size \(400\) is larger than the training data"):
        Budget(epochs=1, batch_size=400, max_train_samples=300).check(len(digits.y_train))
