"""A strategy's GP hyperparameters, refitted in one background thread while trials train,
for parallel trials whose asks must not queue behind fits
(:meth:`core.optimizer.BayesStrategy.refit_in_background`)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from sklearn.gaussian_process.kernels import Kernel

from core.fit import History, fit
from core.gp import LatentGP


class Refits:
    """The background refits of one strategy. Only the newest history waits to be
    fitted: a request replaces an older one not yet started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refitted = threading.Condition(self._lock)  # a newer kernel was kept
        self._wake = threading.Event()
        self._kernel: tuple[int, Kernel] | None = None  # observations fitted, kernel
        #: the newest history waiting to be fitted, with the settings and seed of its fit
        self._wanted: tuple[History, Mapping[str, Any], int] | None = None
        self._closed = False
        self.fits = 0  # hyperparameter fits made in the background
        self._thread = threading.Thread(target=self._work, name="gp-refits", daemon=True)
        self._thread.start()

    def latest(self) -> Kernel | None:
        with self._lock:
            return None if self._kernel is None else self._kernel[1]

    def fitted_on(self) -> int:
        """How many observations the latest hyperparameters were fitted to (0: none yet)."""
        with self._lock:
            return 0 if self._kernel is None else self._kernel[0]

    def after_fit(self, strategy: Any, gp: LatentGP) -> None:
        """``strategy`` (a :class:`~core.optimizer.BayesStrategy`) just fitted (or
        conditioned) ``gp``: keep a first fit's kernel, and ask for the hyperparameters of
        this history unless they are the ones in use."""
        n = len(strategy.observations)
        with self._lock:
            if self._kernel is None:
                self._kernel = (n, gp.kernel_)
                self._refitted.notify_all()
                return
            if self._kernel[0] >= n:
                return
            self._wanted = (strategy.history, strategy.search, strategy.seed)
        self._wake.set()

    def wait(self, observations: int, timeout: float = 120.0) -> bool:
        """Block until the hyperparameters of ``observations`` results are fitted."""
        with self._refitted:
            return self._refitted.wait_for(
                lambda: self._kernel is not None and self._kernel[0] >= observations, timeout
            )

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake.set()
        self._thread.join(timeout=30)

    def _work(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                self._wake.clear()
                if self._closed:
                    return
                wanted, self._wanted = self._wanted, None
            if wanted is None:
                continue
            history, search, seed = wanted
            n = len(history.observations)
            gp = fit(history, search, seed=seed, index=n).gp
            with self._lock:
                self.fits += 1
                if self._kernel is None or self._kernel[0] < n:
                    self._kernel = (n, gp.kernel_)
                    self._refitted.notify_all()
