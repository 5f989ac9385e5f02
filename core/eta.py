"""How long training takes: measured throughput, the estimate from it, and how to say it.

One rule serves the Tune page's estimate before a study starts and the ETA of a running
study: seconds = epochs left x training samples per epoch / samples a second, the rate
measured on this machine's past epochs (or assumed from the image size before any).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from core.trainer import Budget

#: Training samples a second for the seed's CNN on 28x28 images on a 2-core CPU,
#: used until this machine has measured its own.
ASSUMED_RATE_28X28 = 1500.0


def assumed_rate(input_shape: tuple[int, ...]) -> float:
    """A throughput guess for an input shape, scaled by pixel count from 28x28."""
    area = max(1, int(input_shape[0]) * int(input_shape[1]))
    return ASSUMED_RATE_28X28 * 784 / area


def measured_rate(histories: Iterable[Iterable[Mapping[str, float]]]) -> float | None:
    """Median samples/second over past epochs (the first epoch of each trial, which
    includes graph tracing, is skipped when later ones exist); None before any epoch."""
    rates = []
    for history in histories:
        epochs = list(history)
        for h in epochs[1:] if len(epochs) > 1 else epochs:
            r = h.get("samples_per_second")
            if r is not None and math.isfinite(r) and r > 0:
                rates.append(r)
    return float(np.median(rates)) if rates else None


def estimate_seconds(epochs: float, samples_per_epoch: int, rate: float) -> float:
    """Seconds to train ``epochs`` epochs of ``samples_per_epoch`` samples at ``rate``."""
    return max(0.0, epochs) * samples_per_epoch / rate


def seconds_left(
    budget: Budget,
    n_train: int,
    n_val: int,
    rate: float,
    *,
    trials: int,
    epochs_done: int = 0,
    final: bool = False,
    workers: int = 1,
) -> float:
    """Seconds to train ``trials`` more trials (less the ``epochs_done`` of the running ones),
    ``workers`` at a time each at ``rate``, plus the final retrain on train+validation if
    ``final``."""
    epochs = trials * budget.epochs - min(epochs_done, budget.epochs * trials)
    seconds = estimate_seconds(epochs, budget.train_size(n_train), rate)
    seconds /= max(1, min(workers, trials))
    if final:
        seconds += estimate_seconds(budget.epochs, budget.train_size(n_train + n_val), rate)
    return seconds


def format_duration(seconds: float | None) -> str:
    """``1:02:03`` or ``2:03``; an em dash for an unknown duration."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    total = int(round(max(0.0, seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
