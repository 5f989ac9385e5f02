"""bench/protocol.py: the fresh-noise view, the paired design and the report, on surfaces
whose answer is known, and a smoke-sized run of the script."""

import dataclasses
import json

import numpy as np
import pytest

from bench import methods, protocol
from bench import surfaces as bench_surfaces

SIGMA = 0.01


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    """Four runs of an 8 x 8 CNN-like table: a known smooth surface plus noise of std 0.01."""
    root = tmp_path_factory.mktemp("known")
    rng = np.random.default_rng(3)
    u = np.linspace(0.0, 1.0, 8)
    clean = 0.90 + 0.05 * u[None, :] - 0.04 * (u[:, None] - 0.5) ** 2
    table = {"dataset": "known", "summary": "known: 10 classes", "budget": {},
             "baseline_accuracy": 0.1, "validation_samples": 400,
             "dropout2_rate": list(np.linspace(0.1, 0.5, 8)),
             "log10_lr": list(np.linspace(-4.0, -2.0, 8))}  # fmt: skip
    (root / "data").mkdir()
    (root / "replicates").mkdir()
    for k in range(4):
        run = clean + rng.normal(0.0, SIGMA, clean.shape)
        name = "data/cnn-known.json" if k == 0 else f"replicates/cnn-known-run{k}.json"
        cells = [[[float(v)] for v in row] for row in run]
        (root / name).write_text(json.dumps(table | {"val_accuracy": cells}))
    return bench_surfaces.tabular(root / "data" / "cnn-known.json"), clean, root


def test_the_fresh_noise_view_draws_residuals_with_the_measured_spread(known):
    s, clean, _ = known
    assert s.sigma == pytest.approx(SIGMA, rel=0.15)
    assert len(s.halves) == 2
    for half in s.halves:
        assert half.residuals.size == 2 * clean.size  # two runs a half, every cell
        assert half.optimum == pytest.approx(clean.max(), abs=0.5 * SIGMA)
    asked, yardstick = protocol.fresh_noise(s, seed=10_000)
    p = {"dropout2_rate": 0.3, "lr": 1e-3}
    draws = np.array([asked.f(p) for _ in range(4000)]) - s.halves[0].smooth(p)
    assert draws.std() == pytest.approx(s.halves[0].residuals.std(), rel=0.05)
    assert draws.std() == pytest.approx(SIGMA, rel=0.2)
    # scored on the other half's estimate, never on the draws it was answered with
    assert yardstick.f(p) == s.halves[1].smooth(p) and yardstick.optimum == s.halves[1].optimum
    assert protocol.fresh_noise(s, seed=10_001)[1].f(p) == s.halves[0].smooth(p)


def test_every_method_gets_the_same_draws_in_the_same_query_order(known):
    s, _, _ = known
    p = {"dropout2_rate": 0.2, "lr": 3e-4}
    a, b = protocol.fresh_noise(s, 7)[0], protocol.fresh_noise(s, 7)[0]
    first = [a.f(p) for _ in range(5)]
    assert [b.f(p) for _ in range(5)] == first
    assert [protocol.fresh_noise(s, 9)[0].f(p) for _ in range(5)] != first


def test_every_peer_starts_from_this_projects_random_points(known):
    s, _, _ = known
    start = methods.shared_start(s.space, 10_000)
    for name in methods.DECLARED:
        run = methods.METHODS[name]
        asked = []

        def recording(p, asked=asked):
            asked.append(dict(p))
            return s.f(p)

        values = run(bench_surfaces.Surface(s.name, s.space, recording, 1.0, 0.0), 10_000, 6)
        assert len(values) == 6, name
        for got, want in zip(asked[:5], start, strict=True):
            assert got == pytest.approx(want, rel=1e-9), name


def test_the_regret_is_in_sigma_on_the_other_half_at_the_handed_over_trial(known, monkeypatch):
    s, _, root = known
    monkeypatch.setattr(protocol, "catalogue", lambda data: {s.name: s})
    curve = protocol.regret_curve(s.name, "random", 10_000, 8, str(root))
    asked, yardstick = protocol.fresh_noise(s, 10_000)
    points = methods.shared_start(s.space, 10_000, 8)
    values = [asked.f(p) for p in points]
    best = points[int(np.argmax(values))]
    want = (yardstick.optimum - yardstick.f(best)) / s.sigma
    assert curve[-1] == pytest.approx(max(want, 0.0))


def test_held_out_bumps_have_their_optimum_where_the_local_searches_find_it():
    bumps = protocol.Bumps(dim=2, seed=10_000)
    grid = np.linspace(0, 1, 201)
    dense = max(bumps.value(np.array([x, y])) for x in grid for y in grid)
    assert bumps.optimum() >= dense - 1e-9
    assert bumps.optimum() == pytest.approx(dense, rel=1e-3)


def test_the_report_names_a_known_shift_and_not_a_missing_one():
    rng = np.random.default_rng(0)
    seeds, budget = 40, 25
    base = rng.exponential(1.0, (seeds, 1)) * np.linspace(2, 1, budget)
    by = {
        protocol.OURS: (base * 0.2).tolist(),
        "random": (base * 1.0).tolist(),
        "optuna GP": (base * 0.2 + rng.normal(0, 0.01, base.shape)).tolist(),
    }
    rows = {r["peer"]: r for r in protocol.paired_rows(by, budget, sigma_units=True)}
    assert rows["random"]["high"] < 0 and rows["random"]["p_holm"] < 0.01
    assert rows["optuna GP"]["low"] < 0 < rows["optuna GP"]["high"]
    assert rows["optuna GP"]["p_holm"] > 0.05
    table = "\n".join(protocol.summary_table("x", by, budget, sigma_units=True))
    within = int(np.sum(np.array(by[protocol.OURS])[:, -1] <= 0.5))
    assert f"| {protocol.OURS} | {within}/40 =" in table


def test_each_peers_map_recovers_a_smooth_function_from_enough_trials():
    """The maps of scikit-optimize's and Optuna's GPs; Optuna's goes through its private
    optuna._gp, so this fails if that changes under us."""
    from core.space import Param, SearchSpace

    space = SearchSpace([Param("a", 0.0, 1.0), Param("b", 1e-4, 1e-2, log=True)])
    rng = np.random.default_rng(0)
    units = rng.random((30, 2))
    truth = lambda u: 0.9 + 0.03 * u[:, 0] - 0.05 * (u[:, 1] - 0.6) ** 2  # noqa: E731
    axis = np.linspace(0, 1, 15)
    grid = np.array([[x, y] for x in axis for y in axis])
    points = [space.from_unit(u) for u in units]
    for mean in (
        protocol.optuna_map(units, truth(units), grid),
        protocol.skopt_map(space, points, truth(units), [space.from_unit(u) for u in grid]),
    ):
        assert mean.shape == (len(grid),)
        assert np.sqrt(np.mean((mean - truth(grid)) ** 2)) < 0.002


def test_the_map_error_is_measured_for_every_gp_at_each_checkpoint(known, monkeypatch):
    s, _, root = known
    monkeypatch.setattr(protocol, "catalogue", lambda data: {s.name: s})
    errors = protocol.map_errors(s.name, 10_000, str(root), (8, 12))
    assert set(errors) == {(m, k) for m in (protocol.OURS, "skopt gp_minimize", "optuna GP")
                           for k in (8, 12)}  # fmt: skip
    for whole, near in errors.values():
        assert 0 < whole < 3 and 0 < near < 3  # the surface spans 5 sigma


def test_the_protocol_script_reports_every_declared_method_and_the_maps(known, capsys, monkeypatch):
    s, _, root = known
    data = str(root / "data")
    branin = bench_surfaces.surfaces(root / "no-tables")[0]  # no CNN table to build
    monkeypatch.setattr(protocol, "catalogue", lambda data: {s.name: s, "branin": branin})
    small = ["--surfaces", "cnn known", "branin", "--seeds", "2", "--budget", "7",
             "--tables", "7", "--jobs", "1", "--data", data, "--out", str(root / "run")]  # fmt: skip
    assert protocol.main(small) == 0
    out = capsys.readouterr().out
    took = json.loads((root / "run" / "run.json").read_text())  # what the run cost
    assert took["seconds"] > 0 and took["jobs"] == 1
    for method in methods.DECLARED:
        assert out.count(f"| {method} |") == 2, method  # one row per surface
    assert "#### cnn known, 7 trials, 2 seeds (regret in sigma)" in out
    assert "the targets are at 25 trials and more" in out
    floor = [protocol.oracle_regret(s, k) for k in (0, 1)]
    assert all(0 <= f < 0.5 for f in floor)  # each half's best is near the other's
    assert f"scored on the other half: regret {floor[0]:.3f}, {floor[1]:.3f} sigma" in out
    again = ["--curves", str(root / "run" / "curves.json"), "--tables", "7", "--data", data]
    assert protocol.main(again) == 0
    assert capsys.readouterr().out.split("Command:")[0] == out.split("Command:")[0]
    maps = ["--surfaces", "cnn known", "--seeds", "1", "--maps", "--map-trials", "6", "8",
            "--jobs", "1", "--data", data]  # fmt: skip
    assert protocol.main(maps) == 0
    out = capsys.readouterr().out
    assert out.count("| cnn known | 8 |") == 3  # ours and the two peers' maps


@pytest.mark.parametrize(
    "family, kinds",
    [
        ("mixed-5d", ["float", "float", "int", "int", "categorical"]),
        ("cnn-8d", ["float"] * 3 + ["int"] * 5),
        ("cnn-9d", ["float"] * 3 + ["int"] * 5 + ["categorical"]),
    ],
)
def test_each_typed_held_out_function_has_its_parameters_and_a_true_optimum(family, kinds):
    mixed = protocol.MixedBumps(seed=10_000, family=family)
    assert [p.kind for p in mixed.space.params] == kinds
    assert any(p.log for p in mixed.space.params if p.kind == "float")
    assert any(p.log for p in mixed.space.params if p.kind == "int")
    s = mixed.surface()
    rng = np.random.default_rng(0)
    points = [mixed.space.from_unit(u) for u in rng.random((2000, mixed.space.width))]
    values = [s.f(p) for p in points]
    assert max(values) <= s.optimum + 1e-9
    assert max(values) > 0.4 * s.optimum  # random search gets somewhere, not everywhere
    # a hill climb from the best random point, one parameter at a time over its values
    # (a float on a fine grid), ends at the optimum's value, not above it
    best = dict(points[int(np.argmax(values))])
    for _ in range(6):
        for q in mixed.space.params:
            options = q.levels if q.discrete else list(q.linspace(201))
            best[q.name] = max(options, key=lambda v, q=q: s.f({**best, q.name: v}))
    assert s.optimum - 0.02 * s.optimum <= s.f(best) <= s.optimum + 1e-9


def test_optuna_searches_the_same_typed_values_as_this_project():
    import optuna

    from bench.methods import optuna_sampler

    mixed = protocol.MixedBumps(seed=10_000).surface()
    seen = []
    f = mixed.f
    mixed = dataclasses.replace(mixed, f=lambda p: seen.append(p) or f(p))
    optuna_sampler("tpe")(mixed, 3, 8)
    assert len(seen) == 8 and optuna.__version__
    assert seen[:5] == methods.shared_start(mixed.space, 3, 5)  # the paired random start
    for p in seen:
        assert p["units"] in (8, 16, 32, 64, 128, 256) and type(p["n"]) is int
        assert p["kind"] in ("a", "b", "c") and 1e-4 <= p["rate"] <= 1e-1


def test_the_gp_rule_hands_over_the_trial_with_the_highest_posterior_mean(known, monkeypatch):
    s, _, root = known
    monkeypatch.setattr(protocol, "catalogue", lambda data: {s.name: s})
    curve, handover = protocol.run_scores(s.name, "random", 10_000, 12, str(root))
    assert len(curve) == 12 and set(handover) == {12}
    asked, yardstick = protocol.fresh_noise(s, 10_000)
    points = methods.shared_start(s.space, 10_000, 12)
    values = np.array([asked.f(p) for p in points])
    picked = protocol.gp_handover(s, points, values)
    assert picked in points
    want = max(yardstick.optimum - yardstick.f(picked), 0.0) / s.sigma
    assert handover[12] == pytest.approx(want)
    lines = protocol.handover_report({s.name: {"random": {"12": [handover[12]]}}},
                                     {s.name: {"random": [curve]}})  # fmt: skip
    assert any(line.startswith(f"| {s.name} | 12 | random |") for line in lines)
