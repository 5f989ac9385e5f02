"""What the training processes' fork server imports once, before any of them starts
(:class:`core.worker.ProcessTrainer`): TensorFlow and Keras, their start-up lines muted,
and the modules a trial runs. Each training process forks from it ready to train, instead
of spending seconds of CPU importing them, at every study and every replacement."""

from core.tensorflow_setup import freeze_heap, import_tensorflow

import_tensorflow()

import core.model  # noqa: E402, F401  (what a trial builds its model with)

freeze_heap()  # before any fork: each training process starts with it frozen
