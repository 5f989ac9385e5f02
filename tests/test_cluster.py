"""A two-node Ray cluster on this machine (``ray.cluster_utils.Cluster``): a node that leaves
mid-trial fails its trial, which is retried once at the same point, and the study completes
on the node that is left."""

import functools
import time

import pytest

from core.executor import Parallel, make_pool
from core.runner import Registry, Runner
from core.status import StudyStatus, TrialStatus
from core.trainer import Budget


@pytest.fixture
def two_nodes():
    import ray
    from ray.cluster_utils import Cluster

    ray.shutdown()  # a Ray of this process from another test module
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    yield cluster, worker
    ray.shutdown()
    cluster.shutdown()


def test_a_node_that_leaves_mid_trial_fails_it_and_the_study_completes(
    two_nodes, store, tmp_path, tiny_config, wait_for, both_training
):
    import ray

    cluster, worker = two_nodes
    pools = []

    def pool_factory(*args, **kwargs):
        pools.append(make_pool(*args, **kwargs))
        return pools[-1]

    config = tiny_config(
        "cluster", init_points=3, n_iter=0, budget=Budget(12, 8), parallel=Parallel(workers=2)
    )
    runner = Registry(store, runs_dir=tmp_path).create(
        config, runner_factory=functools.partial(Runner, pool_factory=pool_factory)
    )
    assert wait_for(lambda: both_training(runner), 180)
    nodes = {ray.get(t.actor.node.remote()) for t in pools[0].trainers}
    assert nodes == {cluster.head_node.node_id, worker.node_id}  # one trial on each node
    running = {t.number for t in runner.snapshot().running}
    left_at = time.time()
    cluster.remove_node(worker, allow_graceful=False)
    assert runner.join(300)

    study = store.load("cluster")
    assert study.status == StudyStatus.COMPLETE, study.error
    lost = [t for t in study.trials if t.status == TrialStatus.FAILED]
    assert len(lost) == 1 and lost[0].number in running
    assert "Ray worker was lost" in lost[0].error
    retry = [t for t in study.trials if t.number > lost[0].number and t.params == lost[0].params]
    assert len(retry) == 1 and retry[0].status == TrialStatus.COMPLETE
    assert retry[0].started_at > left_at
    assert len(study.finished_trials) == 3
