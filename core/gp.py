"""The project's Gaussian process: a Matern 5/2 kernel with an amplitude and a fitted
noise, its hyperparameters fitted by MAP (:class:`Priors`), a posterior of the latent
function, and how a pruned trial's value is projected to the whole budget.

A fit (:mod:`core.fit`) makes it; nothing here knows bayes_opt.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.linalg import cho_solve, cholesky, solve_triangular
from scipy.optimize import minimize
from scipy.spatial.distance import cdist
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (
    ConstantKernel,
    Kernel,
    Matern,
    Product,
    Sum,
    WhiteKernel,
)

# sklearn warns when a hyperparameter ends at its bound, which the priors and bounds here
# make a normal outcome. Filtered for the process, not in a catch_warnings block: that
# block swaps the process's filters, and a parallel study fits in two threads at once.
warnings.filterwarnings("ignore", category=ConvergenceWarning, module=r"sklearn\.gaussian_process")

#: Length scales the GP may fit, one per parameter, in unit-cube widths. A floor of a tenth
#: of the range keeps a GP fitted to a dozen noisy accuracies from collapsing into spikes
#: at the observations over a flat prior (a blank surrogate chart).
LENGTH_SCALE_BOUNDS = (0.1, 100.0)
#: The smallest variance the GP reports for the function (an exact 0 makes EI 0 / 0).
MIN_VARIANCE = 1e-18
#: The fitted GP's signal variance and noise variance, in units of the standardised
#: objective's variance: both fitted, rather than a fixed alpha (docs/BENCHMARKS.md).
AMPLITUDE_BOUNDS = (1e-2, 1e3)
NOISE_BOUNDS = (1e-6, 1.0)
SQRT5 = math.sqrt(5.0)


class Priors:
    """MAP estimation of the GP's hyperparameters, as sklearn's ``optimizer`` callable.

    The log marginal likelihood plus log priors over the log hyperparameters, maximised by
    L-BFGS-B with exact gradients. On a dozen noisy trials maximum likelihood alone can run
    a length scale to its ceiling: a map flat along that axis, whatever the trials along it
    said. A length scale l (in unit-cube widths) gets ``-0.1 l^2``, the long side of the
    prior of Optuna's GP sampler (``optuna/_gp/prior.py``): near the cube's width it costs
    a tenth of a nat, a hundredfold off it a thousand. Optuna's short side,
    ``-0.1 / l^2``, is left out: it makes "everything is noise" the likeliest reading of a
    few values of a function with one short scale (Branin after 5 trials, in 2 seeds of 5,
    for 5 more trials), and the floor of the length scales (:data:`LENGTH_SCALE_BOUNDS`)
    already keeps spikes away.

    Where the objective is an accuracy, the picture's fit gives the amplitude a log-normal
    prior in accuracy units (:func:`signal_prior`): what an accuracy does across a plane,
    which the values themselves cannot tell while they are few. Elsewhere the amplitude and
    the noise get none: Optuna's Gamma(2, 1) on the amplitude and
    Gamma(1.1, 30) on the noise expect a nearly exact objective, and on a dozen accuracies
    that differ by noise alone they move the variance from the noise into the function
    (the fitted noise 3 to 20 times below the truth, and a stopping hint that never fires).
    What keeps the noise off 0 is a floor where one is known
    (:meth:`core.fit.History.noise_floor`).
    """

    def __init__(self, kinds: Sequence[str], amplitude: tuple[float, float] | None = None) -> None:
        #: per entry of the kernel's theta: "length_scale", "amplitude" or "" (no prior)
        self.kinds = tuple(kinds)
        #: the amplitude's prior, a normal over its log (centre, std), or None: none
        self.amplitude = amplitude

    @classmethod
    def for_kernel(cls, kernel: Kernel, amplitude: tuple[float, float] | None = None) -> Priors:
        """The priors for ``kernel``'s free hyperparameters; ``amplitude``: a normal prior
        (centre, std) over the log of its amplitude in the units it is fitted in (see
        :func:`signal_prior`), None for none."""
        kinds: list[str] = []
        for h in kernel.hyperparameters:
            if h.fixed:
                continue
            kind = next((k for key, k in _PRIOR_KINDS.items() if h.name.endswith(key)), "")
            if kind == "amplitude" and amplitude is None:
                kind = ""
            kinds += [kind] * h.n_elements
        return cls(kinds, amplitude)

    def log_prior(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """The log prior at log-hyperparameters ``theta`` and its gradient."""
        theta = np.asarray(theta, dtype=float)
        value, grad = 0.0, np.zeros_like(theta)
        for i, (kind, t) in enumerate(zip(self.kinds, theta, strict=True)):
            if kind == "length_scale":
                square = math.exp(2 * t)
                value -= 0.1 * square
                grad[i] = -0.2 * square
            elif kind == "amplitude":
                centre, width = self.amplitude
                value -= 0.5 * ((t - centre) / width) ** 2
                grad[i] = -(t - centre) / width**2
        return value, grad

    def __call__(
        self, obj_func: Callable, initial_theta: np.ndarray, bounds: np.ndarray
    ) -> tuple[np.ndarray, float]:
        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            nll, grad = obj_func(theta, eval_gradient=True)
            prior, dprior = self.log_prior(theta)
            return float(nll - prior), np.asarray(grad - dprior, dtype=float)

        result = minimize(objective, initial_theta, method="L-BFGS-B", jac=True, bounds=bounds)
        return result.x, float(result.fun)


_PRIOR_KINDS = {"length_scale": "length_scale", "constant_value": "amplitude"}

#: How far an accuracy moves across a plane of hyperparameters, as a prior on the GP's
#: signal std in accuracy units: a log-normal with this median and this std of its log. The
#: two measured planes of the seed's CNN (mnist-5k and fashion-mnist, 12 x 12 cells,
#: ``bench/data``) have signal stds of 0.031-0.039; one std of the log either side spans
#: 0.018 to 0.049. Chosen on 40 development seeds of the simulated default study
#: (``bench/default_study.py --first-seed 0``): the band covers a median 0.84 of the plane
#: after 2 trials, where maximum likelihood alone covered 0.05; medians of 0.02 and 0.025
#: covered 0.61 and 0.70. It is the picture's only (:meth:`BayesStrategy.picture`).
ACCURACY_SIGNAL = (0.03, 0.5)


def signal_prior(
    scale: float, signal: tuple[float, float] = ACCURACY_SIGNAL
) -> tuple[float, float]:
    """The amplitude's prior over its log (centre, std) for values standardised by
    ``scale`` (their std), from a log-normal ``signal`` std (median, std of its log) in the
    objective's own units: the amplitude is the signal's variance over ``scale`` squared.

    Without it, two or three values a little apart standardise to ±1, and maximum
    likelihood reads their spread as the function's whole range: a band that claims to
    know the plane to a few thousandths, and a colour bar stretched over a difference far
    below one run's noise."""
    median, width = signal
    return 2.0 * math.log(median / scale), 2.0 * width


def standard_scale(values: Any) -> float:
    """The std ``normalize_y`` divides the targets by (1 where it is ~0, or with no targets,
    as sklearn does)."""
    spread = float(np.std(np.asarray(values, dtype=float))) if len(values) else 0.0
    return spread if spread > 10 * np.finfo(float).eps else 1.0


class LatentGP(GaussianProcessRegressor):
    """sklearn's GP whose predictions describe the function, not one more noisy observation.

    With a fitted :class:`WhiteKernel`, sklearn's predictive std includes the noise term,
    so the acquisition would see uncertainty left at points already tried and the charts
    would draw it as such. This subtracts the fitted noise (as scikit-optimize's GP does).
    """

    #: Applied to every input before the kernel sees it (:meth:`SearchSpace.snap`: integers
    #: and categories at their canonical coordinates); None: the inputs as they are.
    transform: Any = None

    def _inputs(self, X: Any) -> np.ndarray:  # noqa: N803
        X = np.asarray(X, dtype=float)  # noqa: N806
        return X if self.transform is None else self.transform(X)

    def fit(self, X: Any, y: Any) -> LatentGP:  # noqa: N803 (sklearn's signature)
        super().fit(self._inputs(X), y)
        # normalize_y divides by the targets' std (1 where it is ~0, as sklearn does):
        # kept here so the noise can be told in the objective's own units.
        self.y_scale_ = standard_scale(y)
        self.y_mean_ = float(np.mean(np.asarray(y, dtype=float)))
        # what the fast posterior needs, computed once per fit instead of once per call
        self._matern_ = (
            kernel_parts(self.kernel_) if _is_project_kernel(self.kernel_) and self.normalize_y
            else None
        )  # fmt: skip
        if self._matern_ is not None:
            self._scaled_train_ = self.X_train_ / np.atleast_1d(self._matern_[0].length_scale)
        return self

    def log_marginal_likelihood(
        self, theta: Any = None, eval_gradient: bool = False, clone_kernel: bool = True
    ) -> Any:
        """sklearn's, computed in one pass of numpy for this project's kernels: the MAP fit
        calls it a few hundred times per ask, and sklearn's kernel objects spent most of
        that time in Python (getting and setting parameters), not in arithmetic. The same
        value and gradient (``tests/test_optimizer.py``); ``self.kernel_`` is left as it
        is, since the fit sets the optimum's theta itself. Other kernels: sklearn's."""
        layout = None if theta is None or np.ndim(self.y_train_) != 1 else _layout(self.kernel_)
        if layout is None:
            return super().log_marginal_likelihood(theta, eval_gradient, clone_kernel)
        return matern_log_likelihood(
            self.X_train_, self.y_train_, self.alpha, np.asarray(theta, dtype=float), layout,
            eval_gradient,
        )  # fmt: skip

    @property
    def noise_variance(self) -> float:
        """The fitted white-noise variance in the objective's units (0 before fitting)."""
        kernel = getattr(self, "kernel_", None)
        if kernel is None:
            return 0.0
        level = kernel_parts(kernel)[2]
        scale = self.y_scale_ if self.normalize_y else 1.0
        return level * scale**2

    @property
    def observation_noise_std(self) -> float:
        """One observation's noise std in the objective's units: the fitted white noise, or
        the fixed ``alpha`` (0 before fitting)."""
        if getattr(self, "kernel_", None) is None:
            return 0.0
        scale = self.y_scale_ if self.normalize_y else 1.0
        # the base alpha: a partial trial's own extra variance is not one observation's noise
        return math.sqrt(self.noise_variance + float(np.min(self.alpha)) * scale**2)

    def predict(self, X: Any, return_std: bool = False, return_cov: bool = False) -> Any:  # noqa: N803 (sklearn's signature)
        X = self._inputs(X)  # noqa: N806
        if not return_cov and self._fast_path_applies():
            return self._predict_matern(X, return_std)
        out = super().predict(X, return_std=return_std, return_cov=return_cov)
        if not (return_std or return_cov):
            return out
        mean, spread = out
        noise = self.noise_variance
        if return_std:
            # never exactly 0: EI and PI divide by it, and 0 / 0 would propose NaN
            return mean, np.sqrt(np.maximum(spread**2 - noise, MIN_VARIANCE))
        return mean, spread - noise * np.eye(spread.shape[0])

    def _fast_path_applies(self) -> bool:
        return getattr(self, "_matern_", None) is not None and np.ndim(self.y_train_) == 1

    def _predict_matern(self, X: np.ndarray, return_std: bool) -> Any:  # noqa: N803
        """The same posterior as sklearn's ``predict`` for this project's kernels, from the
        fitted ``X_train_``, ``L_`` and ``alpha_``: a few times faster on the one-point calls
        the acquisition's optimizer makes by the thousand, since no input is re-validated
        and the kernel is one formula instead of a tree of kernel objects."""
        matern, amplitude, _ = self._matern_
        scale = np.atleast_1d(matern.length_scale)
        r = cdist(X.reshape(-1, self.X_train_.shape[1]) / scale, self._scaled_train_)
        k = amplitude * matern52(r)[0]
        mean = (k @ self.alpha_) * self.y_scale_ + self.y_mean_
        if not return_std:
            return mean
        v = solve_triangular(self.L_, k.T, lower=True, check_finite=False)
        # the function's variance: the fitted white noise is left out, as in predict()
        variance = (amplitude - np.einsum("ij,ij->j", v, v)) * self.y_scale_**2
        return mean, np.sqrt(np.maximum(variance, MIN_VARIANCE))

    def leave_one_out(self) -> tuple[np.ndarray, np.ndarray]:
        """Each training value as predicted from all the others, and that prediction's std
        as one more observation (noise included), in the objective's units: the closed form
        of Rasmussen and Williams (2006, eq. 5.12) with the fitted hyperparameters kept,
        mean_i = y_i - [K^-1 y]_i / [K^-1]_ii and var_i = 1 / [K^-1]_ii."""
        inverse = cho_solve((self.L_, True), np.eye(len(self.alpha_)), check_finite=False)
        diagonal = np.diag(inverse)
        scale = self.y_scale_ if self.normalize_y else 1.0
        offset = self.y_mean_ if self.normalize_y else 0.0
        mean = (self.y_train_ - self.alpha_ / diagonal) * scale + offset
        return mean, np.sqrt(1.0 / diagonal) * scale

    def predict_with_gradient(self, x: Any) -> tuple[float, float, np.ndarray, np.ndarray]:
        """The posterior mean and std at one point ``x`` (as :meth:`predict`) with their
        exact gradients in ``x``, taken at the transformed point (an int or a category
        snapped: the caller knows those coordinates, along which the true gradient is 0).

        For a Matern 5/2 k(r) = a (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r) with r the scaled
        distance, dk/dx = -5/3 a (1 + sqrt5 r) exp(-sqrt5 r) (x - x_i) / l^2, smooth at r = 0.
        The mean's gradient is dk^T alpha, the variance's -2 dk^T K^-1 k."""
        if not self._fast_path_applies():
            raise ValueError("gradients need the project's Matern 5/2 kernel, fitted")
        x = self._inputs(np.asarray(x, dtype=float).reshape(1, -1))[0]
        matern, amplitude, _ = self._matern_
        scale = np.atleast_1d(matern.length_scale) * np.ones(x.size)
        diff = (x - self.X_train_) / scale**2  # n x d
        r = cdist(x[None, :] / scale, self._scaled_train_)[0]
        shape, decay = matern52(r)
        k = amplitude * shape
        dk = (-(5.0 / 3.0) * amplitude * (1.0 + SQRT5 * r) * decay)[:, None] * diff  # n x d
        mean = float(k @ self.alpha_) * self.y_scale_ + self.y_mean_
        dmean = (dk.T @ self.alpha_) * self.y_scale_
        v = solve_triangular(self.L_, k, lower=True, check_finite=False)
        variance = (amplitude - float(v @ v)) * self.y_scale_**2
        if variance <= MIN_VARIANCE:
            return mean, math.sqrt(MIN_VARIANCE), dmean, np.zeros_like(dmean)
        w = solve_triangular(self.L_, v, lower=True, trans="T", check_finite=False)  # K^-1 k
        std = math.sqrt(variance)
        dstd = -(dk.T @ w) * self.y_scale_**2 / std
        return mean, std, dmean, dstd


#: A value this many of its leave-one-out stds from what the GP makes of every other value
#: is read as a heavy-tailed draw (:func:`heavy_tail_variance`).
OUTLIER_Z = 3.0
#: The degrees of freedom of the Student-t noise such a value is weighed by (GPstuff's and
#: Jylanki et al.'s (2011) usual 4).
STUDENT_NU = 4.0


#: A value whose leave-one-out residual is this many stds is checked again by a GP fitted
#: without it (a Gaussian fit bends towards an outlier, shortening its length scales, and so
#: masks it: the default study's unstable run sat 2.2 such stds off, 7 noise stds below).
SCREEN_Z = 2.0


def heavy_tail_variance(
    gp: LatentGP, exempt: Sequence[bool], without: Callable[[int], LatentGP]
) -> tuple[int, float, LatentGP] | None:
    """The one training value of a fitted ``gp`` to weigh as a heavy-tailed draw, the
    noise variance to add to it in the objective's units, and the GP fitted without it
    (whose hyperparameters the map then keeps: a Gaussian fit shortens its length scales
    to reach such a value); None when none stands out.

    Training a network at a high learning rate now and then ends far below what its
    neighbours say (the default study's first trial: 0.865 where the table says 0.940,
    seven noise stds off, yet far from chance). A Gaussian likelihood bends the whole map
    towards such a run. The value furthest off by leave-one-out (``exempt`` ones aside: a
    failure's penalty is told on purpose) is predicted again by ``without(i)``, the GP
    fitted to every other value; if it lies more than :data:`OUTLIER_Z` stds from that
    prediction, Student-t noise with :data:`STUDENT_NU` degrees of freedom (read as a
    scale mixture) gives it the weight ``(nu + 1) / (nu + z^2)``: its noise variance is
    divided by that, so the map leans on it as on one run among many."""
    scale = gp.y_scale_ if gp.normalize_y else 1.0
    offset = gp.y_mean_ if gp.normalize_y else 0.0
    values = gp.y_train_ * scale + offset
    mean, std = gp.leave_one_out()
    z = np.where(np.asarray(exempt, bool), 0.0, (values - mean) / std)
    i = int(np.argmax(np.abs(z)))
    if abs(z[i]) <= SCREEN_Z:
        return None
    other = without(i)
    predicted, spread = other.predict(gp.X_train_[i : i + 1], return_std=True)
    noise = other.observation_noise_std**2
    z_i = (values[i] - float(predicted[0])) / math.sqrt(float(spread[0]) ** 2 + noise)
    if abs(z_i) <= OUTLIER_Z:
        return None
    return i, noise * ((STUDENT_NU + z_i**2) / (STUDENT_NU + 1.0) - 1.0), other


def rescaled(kernel: Kernel, factor: float) -> Kernel:
    """One of the project's fitted kernels (amplitude x Matern + white noise) with its
    amplitude and noise multiplied by ``factor``: the same beliefs in accuracy units for
    values standardised by a std ``sqrt(1 / factor)`` times as large."""
    matern, amplitude, noise = kernel_parts(kernel)
    return ConstantKernel(amplitude * factor, "fixed") * matern + WhiteKernel(
        noise * factor, "fixed"
    )


def matern52(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Matern 5/2 correlation (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r) at scaled distances
    ``r``, and its factor exp(-sqrt5 r), which the gradients reuse."""
    decay = np.exp(-SQRT5 * r)
    return (1.0 + SQRT5 * r + (5.0 / 3.0) * r**2) * decay, decay


#: Where a kernel's theta holds each hyperparameter: (amplitude, length scales, noise),
#: each either its fixed value or None if fitted (in theta, in that order, as logs).
Layout = tuple[float | None, np.ndarray | None, float | None]


def _layout(kernel: Kernel) -> Layout | None:
    """The :data:`Layout` of one of this project's kernels (:func:`_is_project_kernel`),
    None for another."""
    if not _is_project_kernel(kernel):
        return None
    matern, amplitude, noise = kernel_parts(kernel)
    fixed = matern.hyperparameter_length_scale.fixed
    scales = np.atleast_1d(matern.length_scale) if fixed else None
    if isinstance(kernel, Matern):
        return 1.0, scales, 0.0
    return (
        amplitude if kernel.k1.k1.hyperparameter_constant_value.fixed else None,
        scales,
        noise if kernel.k2.hyperparameter_noise_level.fixed else None,
    )


def matern_log_likelihood(
    X: np.ndarray,  # noqa: N803
    y: np.ndarray,
    alpha: Any,
    theta: np.ndarray,
    layout: Layout,
    eval_gradient: bool,
) -> Any:
    """The log marginal likelihood of amplitude x Matern 5/2 + white noise (+ ``alpha`` on
    the diagonal) at log-hyperparameters ``theta``, and its gradient in ``theta``, as
    sklearn's ``GaussianProcessRegressor.log_marginal_likelihood`` defines them: -inf and a
    zero gradient where the covariance is not positive definite."""
    amplitude, scales, noise = layout
    n_scales = theta.size - (amplitude is None) - (noise is None)  # 1: one for every axis
    if amplitude is None:
        amplitude = math.exp(theta[0])
    if scales is None:
        start = int(layout[0] is None)
        scales = np.exp(theta[start : start + n_scales])
    if noise is None:
        noise = math.exp(theta[-1])
    scaled = X / scales
    squares = (scaled[:, None, :] - scaled[None, :, :]) ** 2  # n x n x d
    r = np.sqrt(squares.sum(axis=-1))
    matern, decay = matern52(r)
    n = len(y)
    K = amplitude * matern  # noqa: N806
    K[np.diag_indices(n)] += noise + alpha
    try:
        L = cholesky(K, lower=True, check_finite=False)  # noqa: N806
    except np.linalg.LinAlgError:
        return (-np.inf, np.zeros_like(theta)) if eval_gradient else -np.inf
    weights = cho_solve((L, True), y, check_finite=False)
    value = -0.5 * float(y @ weights) - float(np.log(np.diag(L)).sum())
    value -= n / 2 * math.log(2 * math.pi)
    if not eval_gradient:
        return value
    inner = np.outer(weights, weights) - cho_solve((L, True), np.eye(n), check_finite=False)
    grad = []
    if layout[0] is None:
        grad.append(0.5 * float(np.sum(inner * amplitude * matern)))
    if layout[1] is None:
        # d K / d log l_k = a 5/3 (1 + sqrt5 r) exp(-sqrt5 r) (x_k - x'_k)^2 / l_k^2
        slope = inner * (amplitude * (5.0 / 3.0) * (1.0 + SQRT5 * r) * decay)
        if n_scales == 1:
            grad.append(0.5 * float(np.sum(slope * squares.sum(axis=-1))))
        else:
            grad.extend(0.5 * np.einsum("ij,ijk->k", slope, squares))
    if layout[2] is None:
        grad.append(0.5 * noise * float(np.trace(inner)))
    return value, np.asarray(grad, dtype=float)


def project_partial(
    curve: Sequence[float], complete: Sequence[Sequence[float]], spread: float
) -> tuple[float, float]:
    """A pruned trial's value projected to the whole budget, and that projection's variance.

    ``curve`` is its value after each epoch it trained; ``complete`` the curves of the
    trials that trained their whole budget. The projection is its last value plus the mean
    gain the complete trials made from the same epoch to their end; the variance is the
    spread of those gains (with the uncertainty of their mean), so a rung where the complete
    trials still moved a lot, or where few got further, counts for little. With one complete
    trial the gain's own size stands for its spread; with none, ``spread`` (the spread of
    the values seen) does.
    """
    k = len(curve)
    last = float(curve[-1])
    gains = [float(c[-1]) - float(c[k - 1]) for c in complete if len(c) > k]
    if len(gains) >= 2:
        n = len(gains)
        return last + float(np.mean(gains)), float(np.var(gains, ddof=1)) * (1 + 1 / n)
    if gains:
        return last + gains[0], gains[0] ** 2 + spread**2 / 4
    return last, spread**2


def _is_project_kernel(kernel: Kernel) -> bool:
    """Matern 5/2 alone, or amplitude x Matern 5/2 + white noise (:func:`core.fit.base_kernel`)."""
    if isinstance(kernel, Matern):
        return kernel.nu == 2.5
    return (
        isinstance(kernel, Sum)
        and isinstance(kernel.k1, Product)
        and isinstance(kernel.k1.k1, ConstantKernel)
        and isinstance(kernel.k1.k2, Matern)
        and kernel.k1.k2.nu == 2.5
        and isinstance(kernel.k2, WhiteKernel)
    )


def kernel_parts(kernel: Any) -> tuple[Matern, float, float]:
    """The Matern term, the amplitude and the white-noise level of one of our kernels."""
    if isinstance(kernel, Matern):
        return kernel, 1.0, 0.0
    product, white = kernel.k1, kernel.k2
    return product.k2, float(product.k1.constant_value), float(white.noise_level)
