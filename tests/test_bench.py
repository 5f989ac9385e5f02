"""Smoke-sized runs of every benchmark script, so they cannot rot. The figures in
docs/BENCHMARKS.md come from full runs, never from these."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from bench import (
    driver,
    make_tabular,
    methods,
    optimizers,
    pruning,
    scheduling,
    soak,
    suggestion_time,
    training,
)
from bench import report as bench_report
from bench import surfaces as bench_surfaces
from core.learn import trials_to_target
from core.space import Param, SearchSpace

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "cnn-digits.json"
    assert make_tabular.main(["--dataset", "digits", "--size", "2", "--epochs", "1",
                              "--out", str(out)]) == 0  # fmt: skip
    return out


def test_tabular_benchmark_stores_accuracy_per_cell_and_epoch(tiny_table):
    table = json.loads(tiny_table.read_text())
    acc = np.array(table["val_accuracy"], dtype=float)
    assert acc.shape == (2, 2, 1)
    assert np.nanmax(acc) > 0.1
    assert table["log10_lr"] == pytest.approx([-4, -2])
    assert "make_tabular.py" in table["command"]
    assert 0 < table["baseline_accuracy"] < 0.2 and table["validation_samples"] > 100
    seconds = np.array(table["epoch_seconds"], dtype=float)
    assert seconds.shape == acc.shape and np.all(seconds > 0)


def test_every_optimizer_runs_on_every_kind_of_surface(tiny_table, tmp_path, capsys):
    surfaces = bench_surfaces.surfaces(tiny_table.parent)
    names = [s.name for s in surfaces]
    assert names == ["branin", "hartmann-6", "cnn digits"]
    code = optimizers.main(["--seeds", "1", "--budgets", "3", "6", "--data",
                            str(tiny_table.parent), "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    report = (tmp_path / "optimizers.md").read_text()
    assert "### cnn digits (expected)" in report  # the noise-free view of the CNN surface
    for method in methods.METHODS:
        assert report.count(f"| {method} |") == 4  # no replicate here: no retrained view
    assert (tmp_path / "optimizers.html").exists()
    finals = json.loads((tmp_path / "optimizers.json").read_text())
    assert len(finals["branin"]["random"]["6"]) == 1  # one seed's final regret
    assert "| cnn digits | 6 |" in report  # the comparison with the best peer
    capsys.readouterr()
    assert optimizers.main(["--compare", str(tmp_path / "optimizers.json")]) == 0
    assert "| hartmann-6 | 3 |" in capsys.readouterr().out


def test_comparison_names_the_best_peer_and_whether_the_gap_is_scatter():
    seeds = 10
    finals = {"f": {"bayes (this project)": {"25": [0.01 + i * 1e-4 for i in range(seeds)]},
                    "random": {"25": [0.0] * seeds},  # not a peer: never "best peer"
                    "slow peer": {"25": [1.0 + i * 1e-2 for i in range(seeds)]},
                    "close peer": {"25": [0.5 + i * 1e-2 for i in range(seeds)]}}}  # fmt: skip
    row = bench_report.compare(finals).splitlines()[-1]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:4] == ["f", "25", "0.01045", "close peer: 0.545"]
    assert float(cells[4]) == pytest.approx(0.01045 / 0.545, abs=0.01)
    assert float(cells[5]) < 0.01


def test_regret_is_measured_against_the_known_optimum():
    s = bench_surfaces.Surface("line", SearchSpace([Param("x", 0.0, 1.0)]),
                           lambda p: p["x"], 1.0, 0.1)  # fmt: skip
    curves = optimizers.regret_curves(s, "grid", seeds=1, budget=4)
    assert set(curves) == {"observed"}  # an exact function has no noise-free view
    assert curves["observed"][0, -1] == pytest.approx(0.0)  # the grid includes x = 1
    assert trials_to_target(np.array([[0.5, 0.2, 0.05]]), 0.1) == 3


def test_expected_regret_scores_the_incumbent_on_the_noise_free_surface():
    # one lucky draw at x = 1/3 (2.0 where the noise-free value is 1/3); the grid asks
    # 0, 1/3, 2/3, 1 and keeps the lucky point as its incumbent
    def noisy(p):
        return 2.0 if abs(p["x"] - 1 / 3) < 1e-9 else p["x"]

    s = bench_surfaces.Surface("line", SearchSpace([Param("x", 0.0, 1.0)]),
                           noisy, 2.0, 0.1, expected=lambda p: p["x"],
                           expected_optimum=1.0)  # fmt: skip
    curves = optimizers.regret_curves(s, "grid", seeds=1, budget=4)
    assert curves["observed"][0] == pytest.approx([2.0, 0.0, 0.0, 0.0])
    assert curves["expected"][0] == pytest.approx([1.0, 2 / 3, 2 / 3, 2 / 3])


def test_retrained_view_answers_each_query_from_a_run_drawn_at_random():
    # two stored runs of a line: the first has a lucky draw at x = 1/3, the second none.
    # Retraining the grid's points draws one run per query, so the lucky point is the
    # incumbent only in the seeds that drew the first run for it.
    def lucky(p):
        return 2.0 if abs(p["x"] - 1 / 3) < 1e-9 else p["x"]

    s = bench_surfaces.Surface("line", SearchSpace([Param("x", 0.0, 1.0)]),
                           lucky, 2.0, 0.1, expected=lambda p: p["x"], expected_optimum=1.0,
                           runs=(lucky, lambda p: p["x"]))  # fmt: skip
    assert bench_surfaces.view_names(s) == {"observed": "line", "expected": "line (expected)",
                                        "retrained": "line (retrained)"}  # fmt: skip
    curves = optimizers.regret_curves(s, "grid", seeds=12, budget=4)
    assert curves["expected"] == pytest.approx(np.tile([1.0, 2 / 3, 2 / 3, 2 / 3], (12, 1)))
    stuck, found = [1.0, 2 / 3, 2 / 3, 2 / 3], [1.0, 2 / 3, 1 / 3, 0.0]
    rows = [list(r) for r in curves["retrained"]]
    assert all(r == pytest.approx(stuck) or r == pytest.approx(found) for r in rows)
    assert 0 < sum(r == pytest.approx(found) for r in rows) < 12  # both runs get drawn
    again = optimizers.regret_curves(s, "random", seeds=12, budget=4)["retrained"]
    assert again == pytest.approx(optimizers.regret_curves(s, "random", 12, 4)["retrained"])


def test_denoise_recovers_a_known_surface_and_its_noise():
    rng = np.random.default_rng(0)
    u = np.linspace(0.0, 1.0, 12)
    clean = 0.90 + 0.05 * u[None, :] - 0.04 * (u[:, None] - 0.5) ** 2
    smooth, noise = bench_surfaces.denoise([clean + rng.normal(0.0, 0.01, clean.shape)])
    assert noise == pytest.approx(0.01, rel=0.3)
    assert np.abs(smooth - clean).max() < 0.01
    assert smooth.max() == pytest.approx(clean.max(), abs=0.005)


def test_the_surfaces_description_states_each_cnn_surface_s_noise(tiny_table, tmp_path):
    assert bench_surfaces.main(["--data", str(tiny_table.parent), "--out", str(tmp_path)]) == 0
    text = (tmp_path / "results.md").read_text()
    assert "### cnn digits" in text and "one run's noise, as it finds it: std 0." in text
    assert "### branin" not in text


def test_training_benchmark_runs(capsys, tmp_path):
    argv = ["--dataset", "digits", "--epochs", "1", "--repeats", "1", "--fixed-epochs", "1", "2",
            "--fixed-repeats", "1", "--fixed-dataset", "digits", "--out", str(tmp_path)]  # fmt: skip
    assert training.main(argv) == 0
    out = (tmp_path / "results.md").read_text()
    assert "| plain model.fit |" in out and "| worker process (dashboard) |" in out
    # one trial of each length: the line is drawn, its noise is the benchmark's to report
    fixed = re.findall(r"^\| (trainer|worker process) \| -?[\d.]+ \| -?[\d.]+ \| 2 \|$", out,
                       re.MULTILINE)  # fmt: skip
    assert fixed == ["trainer", "worker process"]


def test_a_trials_fixed_cost_is_the_intercept_of_its_times_over_epochs():
    calls = []

    def run(budget, seed):
        calls.append((budget.epochs, seed))
        return 1.5 + 0.25 * budget.epochs

    fixed = training.fixed_cost({"a": run, "b": run}, [1, 2, 3], 64, repeats=2)
    assert fixed["a"] == pytest.approx((1.5, 0.25, 6)) and fixed["b"] == fixed["a"]
    assert sorted(e for e, _ in calls) == [1] * 4 + [2] * 4 + [3] * 4
    assert training.rotated(["a", "b", "c"], 2) == [
        (0, "a"), (0, "b"), (0, "c"), (1, "b"), (1, "c"), (1, "a"),
    ]  # fmt: skip


def test_the_driver_benchmark_times_each_step_with_and_without_running_trials(tmp_path):
    argv = ["--trials", "6", "--dims", "2", "3", "--pending", "0", "2", "--repeats", "1"]
    assert driver.main([*argv, "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "driver.json").read_text())
    cells = {(r["dim"], r["pending"]) for r in result["rows"]}
    assert cells == {(2, 0), (2, 2), (3, 0), (3, 2)}
    assert all(len(r["seconds"]) == 1 and r["seconds"][0] > 0 for r in result["rows"])
    assert all(len(r["map_seconds"]) == 1 and r["map_seconds"][0] > 0 for r in result["rows"])
    assert result["command"].startswith("bench/driver.py --trials 6")
    assert "| 3 | 6 | 2 |" in (tmp_path / "driver.md").read_text()


def test_the_suggestion_time_benchmark_times_ours_and_optunas_asks(tmp_path):
    argv = ["--dims", "2", "3", "--trials", "6", "--repeats", "1", "--out", str(tmp_path)]
    assert suggestion_time.main(argv) == 0
    text = (tmp_path / "results.md").read_text()
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| 3 | 6 |")]
    assert len(rows) == 1 and all(float(cell.split()[0]) > 0 for cell in rows[0][2:])
    assert re.fullmatch(r" \d+\.\d{3} \(fit \d+\.\d{3}\) ", rows[0][2])  # ours: the ask, its fit
    assert "at 6 trials in 3-D" in text and "bench/suggestion_time.py --dims 2 3" in text


def test_the_scheduling_benchmark_keeps_stand_in_workers_busy_and_reports_each_study(tmp_path):
    argv = ["--workers", "1", "3", "--studies", "1", "--scale", "0.02", "--baseline-trials",
            "6", "--trials-per-worker", "3", "--out", str(tmp_path)]  # fmt: skip
    assert scheduling.main(argv) == 0
    result = json.loads((tmp_path / "scheduling.json").read_text())
    assert [(r["workers"], r["trials"]) for r in result["rows"]] == [(1, 6), (3, 9)]
    assert all(0 < r["utilization"] <= 1 and r["trained_seconds"] > 0 for r in result["rows"])
    table = (tmp_path / "scheduling.md").read_text()
    assert "| 1 | 6 |" in table and "| 3 | 9 |" in table and "baseline" in table


def test_the_soak_benchmark_reads_the_training_processs_memory_after_each_trial(tmp_path):
    assert soak.main(["--trials", "3", "--modes", "local", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "soak.json").read_text())
    readings = result["modes"]["local"]["readings_mb"]
    assert len(readings) == 3 and all(r > 100 for r in readings)  # TensorFlow alone is more
    assert "| in process (CLI) |" in (tmp_path / "soak.md").read_text()
    assert result["command"].startswith("bench/soak.py --trials 3")


def test_further_runs_of_a_surface_sharpen_its_noise_free_estimate(tiny_table, tmp_path):
    replicates = tmp_path / "replicates"
    again = replicates / "cnn-digits-run1.json"
    assert make_tabular.main(["--dataset", "digits", "--size", "2", "--epochs", "1",
                              "--run", "1", "--out", str(again)]) == 0  # fmt: skip
    first = json.loads(tiny_table.read_text())["val_accuracy"]
    assert json.loads(again.read_text())["val_accuracy"] != first  # new weights, same split
    s = bench_surfaces.tabular(tiny_table, replicates)
    assert "from 2 run(s)" in s.note and "The other 1 run(s) are predicted" in s.note
    assert s.f({"dropout2_rate": 0.1, "lr": 1e-4}) == pytest.approx(first[0][0][-1])
    second = json.loads(again.read_text())["val_accuracy"]
    # one run's noise, pooled over cells: with two runs, the RMS of their difference / sqrt 2
    diff = np.array(first)[..., -1] - np.array(second)[..., -1]
    assert f"std {np.sqrt(np.mean(np.square(diff)) / 2):.4f}." in s.note
    assert len(s.runs) == 2  # the retrained view draws from both
    assert s.runs[1]({"dropout2_rate": 0.1, "lr": 1e-4}) == pytest.approx(second[0][0][-1])

    other = json.loads(again.read_text()) | {"log10_lr": [-5.0, -1.0]}
    again.write_text(json.dumps(other))
    with pytest.raises(ValueError, match="is not another run"):
        bench_surfaces.tabular(tiny_table, replicates)


def test_a_collapsed_run_is_left_out_of_the_estimate_but_still_answered(tmp_path):
    # three runs of a 3 x 3 grid; in the third, one cell learned nothing (chance is 0.1)
    rng = np.random.default_rng(1)
    base = np.array([[0.90, 0.93, 0.95], [0.91, 0.94, 0.96], [0.90, 0.93, 0.95]])
    runs = [base + rng.normal(0.0, 0.01, base.shape) for _ in range(3)]
    runs[2][1, 2] = 0.1
    table = {"dataset": "mnist-5k", "summary": "mnist-5k: 10 classes", "budget": {},
             "baseline_accuracy": 0.1, "validation_samples": 400,
             "dropout2_rate": [0.1, 0.3, 0.5], "log10_lr": [-4.0, -3.0, -2.0]}  # fmt: skip
    (tmp_path / "data").mkdir()
    (tmp_path / "replicates").mkdir()
    for k, r in enumerate(runs):
        name = "data/cnn-x.json" if k == 0 else f"replicates/cnn-x-run{k}.json"
        cells = [[[float(v)] for v in row] for row in r]
        (tmp_path / name).write_text(json.dumps(table | {"val_accuracy": cells}))
    s = bench_surfaces.tabular(tmp_path / "data" / "cnn-x.json")
    assert "1 of 27 trainings collapsed to chance accuracy (run 2, dropout 0.30, lr 1.0e-02: " \
        "0.10)" in s.note  # fmt: skip
    every = np.stack(runs)
    every[2, 1, 2] = np.nan
    spread = np.sqrt(np.nanmean(np.nanvar(every, axis=0, ddof=1)))
    assert spread < 0.03 and f"std {spread:.4f}." in s.note  # the collapse is not noise
    assert s.expected({"dropout2_rate": 0.3, "lr": 1e-2}) > 0.9
    assert s.runs[2]({"dropout2_rate": 0.3, "lr": 1e-2}) == pytest.approx(0.1)  # as stored


@pytest.fixture(scope="module")
def tiny_curves(tmp_path_factory):
    folder = tmp_path_factory.mktemp("curves")
    for run in (0, 1):
        out = folder / f"cnn-digits-run{run}.json"
        assert make_tabular.main(["--dataset", "digits", "--size", "2", "--epochs", "3",
                                  "--run", str(run), "--out", str(out)]) == 0  # fmt: skip
    return sorted(folder.glob("*.json"))


def test_the_pruning_benchmark_feeds_curves_epoch_by_epoch_and_reports(tiny_curves, tmp_path):
    curves = pruning.load(tiny_curves)
    assert curves.epochs == 3 and len(curves.accuracy) == 2 and curves.noise > 0
    p = {"dropout2_rate": 0.3, "lr": 1e-3}
    assert curves.accuracy[0](p).shape == (3,) and np.all(curves.seconds[1](p) > 0)
    never = pruning.ours("bayes", "none")(curves, 10_000, 8)
    asha = pruning.ours("bayes", "asha")(curves, 10_000, 8)
    assert never.pruned == 0 and never.trials == 8 == asha.trials  # the whole budget
    assert never.spent == [3 * k for k in range(1, 9)]  # whole trials only
    assert (asha.spent[-1] < 24) == (asha.pruned > 0)
    assert never.regret == sorted(never.regret, reverse=True)  # the best so far
    if math.isfinite(never.epochs):
        assert never.epochs == never.epochs_to(curves.target)
    code = pruning.main(["--curves", *map(str, tiny_curves), "--seeds", "2",
                         "--max-trials", "6", "--hint-budget", "7", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    table = (tmp_path / "pruning.md").read_text()
    assert all(name in table for name in pruning.METHODS)
    assert "Command: `python bench/pruning.py" in table
    assert "The stopping hint" in table and table.count("| 1000") == 2  # one row per seed
    assert "After the whole budget of 6 trials" in table


def test_the_learn_pages_cnn_surface_is_what_its_command_makes(tmp_path):
    from bench import learn_surface
    from core.learn import CNN_TABLE

    assert learn_surface.main(["--out", str(tmp_path / "cnn.json")]) == 0
    made = json.loads((tmp_path / "cnn.json").read_text())
    shipped = json.loads(CNN_TABLE.read_text())
    assert np.allclose(made["accuracy"], shipped["accuracy"], atol=1e-6)
    assert made["noise"] == pytest.approx(shipped["noise"], abs=1e-6)


def test_the_end_to_end_pruning_run_trains_both_ways_and_reports(tmp_path):
    from bench import pruning_e2e

    code = pruning_e2e.main(["--dataset", "digits", "--seeds", "1", "--init-points", "3",
                             "--n-iter", "0", "--epochs", "2", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    text = (tmp_path / "results.md").read_text()
    assert "| 10000 | none |" in text and "| 10000 | asha |" in text
    assert "| 10000 | none | " in text and " | 6 | " in text  # 3 trials x 2 epochs, unpruned


def test_the_studies_page_benchmark_times_each_kind_of_rerun(tmp_path, monkeypatch):
    from bench import studies_page

    monkeypatch.setenv("TUNER_DB", str(tmp_path / "unused.db"))
    code = studies_page.main(["--trials", "12", "--reruns", "3", "--out", str(tmp_path)])
    assert code == 0
    text = (tmp_path / "results.md").read_text()
    for kind in ("first run", "rerun", "replay, new position", "replay, visited position"):
        assert f"| {kind} |" in text
    assert "Command: `.venv/bin/python bench/studies_page.py --trials 12" in text


def test_the_parallel_benchmark_schedules_stand_ins_on_ray_and_simulates_four_workers(tmp_path):
    from bench import parallel

    code = parallel.main(["--workers", "1", "2", "--trials-per-worker", "2",
                          "--stand-in-epochs", "1", "--surfaces", "branin", "--seeds", "2",
                          "--budget", "6", "--real", "digits", "--real-trials", "2",
                          "--real-epochs", "1", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    text = (tmp_path / "results.md").read_text()
    assert "| 1 | " in text and "| 2 | " in text and "x the rate of 1 worker" in text
    assert "a trial of 1 epochs" in text
    assert "| branin | " in text
    assert "Faster: " in text
    trace = parallel.simulate(parallel.builders()["branin"](), 3, 4, 8, np.array([1.0, 3.0]))
    assert len(trace.times) == 8 and trace.times == sorted(trace.times)
    assert trace.regret == sorted(trace.regret, reverse=True)  # the answer only improves


def test_the_default_study_benchmark_scores_what_a_person_sees(tmp_path):
    from bench import default_study

    runs = {p: [default_study.one_seed((0, p))] for p in ("asha", "none")}
    row = runs["asha"][0]["checkpoints"][25]
    assert row["epochs"] < runs["none"][0]["checkpoints"][25]["epochs"] == 50
    assert 0 <= row["coverage"] <= 1 and row["noise_ratio"] > 0.2 and row["map_rmse_near"] > 0
    assert row["gp_regret"] >= 0 and row["observed_regret"] >= 0
    text = "\n".join(default_study.report(runs, range(0, 1)))
    assert "Map RMSE near the best at 12 trials" in text and "stopping hint" in text
    assert "| 2 | " in text and "one unstable run instead" in text


def test_the_default_study_trained_for_real_runs_from_the_cli_and_is_scored(tmp_path):
    from bench import default_study

    run = default_study.real_study(3, tmp_path, dataset="digits", epochs=1, n_iter=7)
    assert sorted(run["checkpoints"]) == [2, 3, 5, 8, 12]  # what a person saw after each k
    row = run["checkpoints"][12]
    assert row["epochs"] == 12 and row["seconds"] > 0 and 0 <= row["coverage"] <= 1
    text = "\n".join(default_study.real_report([run]))
    assert "| 3 |" in text and "### Targets" in text and "| 2 | " in text


def test_the_protocol_summary_reads_the_stored_curves(tmp_path):
    from bench import summary

    assert summary.main(["--out", str(tmp_path)]) == 0
    text = (tmp_path / "results.md").read_text()
    assert "Geometric mean over the 10 functions, ours / best GP peer: " in text
    assert "| skopt gp_minimize | " in text
