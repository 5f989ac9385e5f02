"""The seed's CNN, built for any image of at least 8x8, compiled correctly.

Fixes to the seed: sparse categorical cross-entropy (it used MSE on a softmax),
and ``Adam(learning_rate=...)`` (it used the removed ``lr`` argument).
"""

from __future__ import annotations

import keras

MIN_SIDE = 8


def build_model(
    input_shape: tuple[int, int, int], num_classes: int, dropout2_rate: float, lr: float
) -> keras.Model:
    """Conv32-Conv64-MaxPool-Dropout(0.25)-Flatten-Dense128-Dropout(rate)-Dense(classes)."""
    h, w = input_shape[0], input_shape[1]
    if h < MIN_SIDE or w < MIN_SIDE:
        raise ValueError(f"input images must be at least {MIN_SIDE}x{MIN_SIDE}, got {h}x{w}")
    if not 0 <= dropout2_rate < 1:
        raise ValueError(f"dropout2_rate must lie in [0, 1), got {dropout2_rate!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes!r}")
    model = keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            keras.layers.Conv2D(32, (3, 3), activation="relu", name="conv2d_1"),
            keras.layers.Conv2D(64, (3, 3), activation="relu", name="conv2d_2"),
            keras.layers.MaxPooling2D((2, 2), name="maxpool2d_1"),
            keras.layers.Dropout(0.25, name="dropout_1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(128, activation="relu", name="dense_1"),
            keras.layers.Dropout(float(dropout2_rate), name="dropout_2"),
            keras.layers.Dense(num_classes, activation="softmax", name="dense_2"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=float(lr)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
