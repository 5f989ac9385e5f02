"""TensorFlow in this process: imported and started once, quietly, and its heap kept out
of the garbage collector's later passes. The data, the model and the trainer call it
before their first TensorFlow work; it imports nothing of the project."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def _stderr_muted() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null, then back (what C++ code prints there too)."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> None:
    """Import TensorFlow and Keras with stderr muted: absl's "before InitializeLog" and the
    CUDA stub lines are printed at import, before any log level applies. No device starts."""
    with _stderr_muted():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401


_heap_frozen = False


def freeze_heap() -> None:
    """Once per process: collect, then keep every object alive now out of the garbage
    collector's later passes (:func:`gc.freeze`). With TensorFlow loaded that is some
    400,000 objects, which the full collection Keras runs before each trial's model would
    otherwise scan again every time (0.4 s of a trial). What is frozen is what a trial
    never frees: modules, TensorFlow's registries, the process's own state. A process
    forked after the call (a training process from :mod:`core.preload`) inherits it."""
    global _heap_frozen
    if not _heap_frozen:
        gc.collect()
        gc.freeze()
        _heap_frozen = True


_started = False


def quiet_tensorflow(threads: int | None = None) -> None:
    """Import TensorFlow and start its devices once per process with stderr muted: its
    C++ start-up lines (absl's "before InitializeLog", the CUDA stub, the CPU feature guard)
    are printed before any log level applies, and would otherwise greet every trial
    process. ``threads``: its op parallelism, set before the runtime starts. A failed
    import still raises, once stderr is back."""
    global _started
    if _started and threads is None:
        return
    with _stderr_muted():
        import tensorflow as tf

        if threads:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf.config.list_physical_devices("GPU")
    _started = True
