"""The surfaces the optimizer benchmark runs on: Branin, Hartmann-6, and tabular surfaces of
the real CNN (validation accuracy trained on a grid, linearly interpolated over dropout x
log10 lr), each CNN surface with a noise-free estimate from its stored training runs.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.learn import BENCHMARKS
from core.space import Param, SearchSpace
from core.trainer import learned_nothing

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Surface:
    name: str
    space: SearchSpace
    f: Callable[[dict[str, float]], float]
    optimum: float
    target: float
    #: The noise-free estimate of ``f`` and its optimum, where ``f`` is one noisy draw.
    expected: Callable[[dict[str, float]], float] | None = None
    expected_optimum: float = math.nan
    #: How the estimate was made and how well it holds (markdown, for the report).
    note: str = ""
    #: Every stored run of the surface (``f`` is the first): with two or more, each query can
    #: be answered by one of them at random, as retraining the same point would.
    runs: tuple[Callable[[dict[str, float]], float], ...] = ()
    #: One training run's noise (std), pooled over the stored runs; NaN with fewer than two.
    sigma: float = math.nan
    #: The stored runs split in two, each half with its own noise-free estimate and
    #: residuals: the fresh-noise view queries one half and is scored on the other.
    halves: tuple[Half, ...] = ()
    #: A CNN surface's validation samples: its values are accuracies over that many images,
    #: which a study tells its GP (the floor of its noise); None for other functions.
    binomial_n: int | None = None


@dataclass(frozen=True)
class Half:
    """Some of a surface's stored runs: the noise-free estimate they give, its best value,
    and every residual (a run's cell minus the estimate there)."""

    smooth: Callable[[dict[str, float]], float]
    optimum: float
    residuals: np.ndarray


_H6_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
     [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)  # fmt: skip
_H6_P = 1e-4 * np.array(
    [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
)  # fmt: skip
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(p: dict[str, float]) -> float:
    x = np.array([p[f"x{i}"] for i in range(1, 7)])
    return float(np.sum(_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def denoise(runs: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """A noise-free estimate of a grid of accuracies from one or more runs of every cell,
    and the std of one run's noise that it finds.

    A GP (amplitude x Matern 5/2 with one length scale per axis, plus white noise, every
    hyperparameter by maximum likelihood) on all the cells of all the runs, over the unit
    square. NaN cells (collapsed runs) are left out.
    """
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    rows, cols = runs[0].shape
    grid = np.array([[i, j] for i in np.linspace(0, 1, rows) for j in np.linspace(0, 1, cols)])
    x = np.tile(grid, (len(runs), 1))
    y = np.concatenate([r.ravel() for r in runs])
    kept = ~np.isnan(y)
    x, y = x[kept], y[kept]
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
        [0.3, 0.3], (0.02, 100.0), nu=2.5
    ) + WhiteKernel(1e-2, (1e-6, 1.0))
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=5, random_state=0)
    with warnings.catch_warnings():  # length scales at their ceiling: a flat axis
        warnings.simplefilter("ignore")
        gp.fit(x, y)
    noise = math.sqrt(gp.kernel_.k2.noise_level) * float(np.std(y))
    return gp.predict(grid).reshape(rows, cols), noise


def _final_accuracy(table: dict) -> np.ndarray:
    return np.array(
        [
            [cell[-1] if cell[-1] is not None else 0.0 for cell in row]
            for row in table["val_accuracy"]
        ]
    )


def _rms(a: np.ndarray) -> float:
    """Root mean square over the entries that are not NaN."""
    return float(np.sqrt(np.nanmean(np.square(a))))


def _collapsed(acc: np.ndarray, table: dict) -> np.ndarray:
    """Cells whose run learned nothing, by the trainer's own rule (or a failed run, stored as
    0). That is a collapse, not noise about the cell's accuracy."""
    return learned_nothing(acc, table["baseline_accuracy"], table["validation_samples"])


def tabular(path: Path, replicates: Path | None = None) -> Surface:
    """A CNN surface from bench/data: final-epoch validation accuracy, interpolated.

    Further runs of the same grid in ``replicates`` (``<stem>-run*.json``, from
    ``make_tabular.py --run N``) only sharpen the noise-free estimate; the optimizers see
    the table in ``path``.
    """
    from scipy.interpolate import RegularGridInterpolator

    table = json.loads(path.read_text())
    d = np.array(table["dropout2_rate"])
    lg = np.array(table["log10_lr"])
    acc = _final_accuracy(table)
    runs = [acc]
    folder = replicates if replicates is not None else path.parent.parent / "replicates"
    for extra in sorted(folder.glob(f"{path.stem}-run*.json")):
        other = json.loads(extra.read_text())
        same = ("dataset", "summary", "budget", "dropout2_rate", "log10_lr")
        if any(other[k] != table[k] for k in same):
            raise ValueError(f"{extra} is not another run of {path}: it differs in {same}")
        runs.append(_final_accuracy(other))
    space = SearchSpace(
        [Param("dropout2_rate", float(d[0]), float(d[-1])),
         Param("lr", float(10 ** lg[0]), float(10 ** lg[-1]), log=True)]
    )  # fmt: skip

    def lookup(values: np.ndarray) -> Callable[[dict[str, float]], float]:
        interp = RegularGridInterpolator((d, lg), values)

        def f(p: dict[str, float]) -> float:
            x = (
                min(max(p["dropout2_rate"], d[0]), d[-1]),
                min(max(math.log10(p["lr"]), lg[0]), lg[-1]),
            )
            return float(np.ravel(interp(x))[0])

        return f

    # collapsed runs (chance accuracy) are left out of the estimate and the noise figures;
    # the views still serve them, as retraining would
    clean = [np.where(_collapsed(r, table), np.nan, r) for r in runs]
    smooth, noise = denoise(clean)
    note = (
        f"Noise-free estimate from {len(runs)} run(s) of every cell; one run's noise, as it "
        f"finds it: std {noise:.4f}. Best cell: {acc.max():.4f} as stored, "
        f"{smooth.max():.4f} noise-free."
    )
    lost = [(k, i, j) for k, r in enumerate(clean) for i, j in np.argwhere(np.isnan(r))]
    if lost:
        where = "; ".join(
            f"run {k}, dropout {d[i]:.2f}, lr {10 ** lg[j]:.1e}: {runs[k][i, j]:.2f}"
            for k, i, j in lost
        )
        note += (
            f" {len(lost)} of {len(runs) * acc.size} trainings collapsed to chance accuracy "
            f"({where}): left out of the estimate and the noise figures, still answered as "
            f"stored."
        )
    if len(runs) > 1:
        every = np.stack(clean)
        rest = every[1:]
        spread = float(np.sqrt(np.nanmean(np.nanvar(every, axis=0, ddof=1))))
        note += (
            f" Over the {len(runs)} runs, one run's noise (each cell's spread about its own "
            f"mean, pooled): std {spread:.4f}. The other {len(runs) - 1} run(s) are predicted "
            f"with RMS error {_rms(rest - denoise([clean[0]])[0]):.4f} by the estimate from "
            f"the stored run alone, {_rms(rest - clean[0]):.4f} by the stored values themselves."
        )
    sigma, halves = math.nan, ()
    if len(runs) > 1:
        sigma = spread
        halves = tuple(_half(clean[k::2], lookup) for k in (0, 1))
    # half a point of accuracy counts as reached
    lookups = tuple(lookup(r) for r in runs)
    return Surface(
        f"cnn {table['dataset']}", space, lookups[0], float(acc.max()), 0.005,
        expected=lookup(smooth), expected_optimum=float(smooth.max()), note=note, runs=lookups,
        sigma=sigma, halves=halves, binomial_n=int(table["validation_samples"]),
    )  # fmt: skip


def _half(runs: list[np.ndarray], lookup: Callable[[np.ndarray], Callable]) -> Half:
    smooth, _ = denoise(runs)
    residuals = np.concatenate([(r - smooth).ravel() for r in runs])
    return Half(lookup(smooth), float(smooth.max()), residuals[~np.isnan(residuals)])


def _branin() -> Surface:
    b = BENCHMARKS["branin"]
    return Surface("branin", b.space, b.f, b.optimum, b.target)


def _hartmann6() -> Surface:
    h6 = SearchSpace([Param(f"x{i}", 0.0, 1.0) for i in range(1, 7)])
    return Surface("hartmann-6", h6, hartmann6, 3.32237, 0.1)


def builders(data_dir: Path = ROOT / "bench" / "data") -> dict[str, Callable[[], Surface]]:
    """How to build each surface, by name, without building any: a CNN surface fits its
    noise-free estimates (seconds each), so a run builds only the surfaces it uses."""
    out: dict[str, Callable[[], Surface]] = {"branin": _branin, "hartmann-6": _hartmann6}
    for path in sorted(data_dir.glob("cnn-*.json")):
        dataset = json.loads(path.read_text())["dataset"]
        out[f"cnn {dataset}"] = lambda path=path: tabular(path)
    return out


def surfaces(data_dir: Path = ROOT / "bench" / "data") -> list[Surface]:
    return [build() for build in builders(data_dir).values()]


def view_names(s: Surface) -> dict[str, str]:
    """The report's name of each view of ``s``, by ``regret_curves``' key."""
    views = {"observed": s.name}
    if s.expected:
        views["expected"] = f"{s.name} (expected)"
        if len(s.runs) > 1:
            views["retrained"] = f"{s.name} (retrained)"
    return views


def main(argv: list[str] | None = None) -> int:
    """Describe each tabular CNN surface: its noise, best cell and how well the noise-free
    estimate from one run predicts the others (docs/BENCHMARKS.md, section 2)."""
    import argparse

    from bench.report import publish

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "bench" / "data"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    lines: list[str] = []
    for name, build in builders(Path(args.data)).items():
        if name.startswith("cnn "):
            lines += [f"### {name}", "", build().note, ""]
    publish(lines, argv, "bench/surfaces.py", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
