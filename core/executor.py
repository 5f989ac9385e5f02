"""Where a study's trials run: one at a time on this machine, or many at once on Ray.

A :class:`Pool` holds one :class:`~core.worker.Trainer` per slot; the runner trains one trial
per slot at a time, each from a thread of its own, so a pool of N slots runs N trials at once.

- ``local`` (one worker, no Ray address): today's single trainer, in this process or a child.
- ``ray``: N slots, each a Ray actor that asks Ray for ``cpus_per_trial`` CPUs (and
  ``gpus_per_trial`` GPUs) and trains with that many TensorFlow threads. The dataset goes
  into Ray's object store once and every actor reads it from there. With no address Ray
  starts a local instance on this machine (no dashboard, no usage reporting); an address
  (``auto``, ``host:6379``, ``ray://host:10001`` or the ``RAY_ADDRESS`` variable) joins an
  existing cluster.

A trial whose Ray worker dies (the process is killed, its node leaves the cluster) comes back
as a failed :class:`~core.trainer.TrialOutcome` with ``lost=True``: the lifecycle retries it at
the same point (``max_retries``, :mod:`core.lifecycle`). The actor is replaced before the slot's next trial.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.data import Dataset
from core.status import TrialStatus
from core.tensorflow_setup import quiet_tensorflow
from core.trainer import (
    STOP_CODES,
    Budget,
    EpochMetrics,
    StopCheck,
    TrialOutcome,
    stop_code,
)
from core.worker import (
    RECYCLE_AFTER,
    DataInfo,
    LocalTrainer,
    RemoteTrainer,
    Trainer,
    final_message,
    final_result,
    make_trainer,
)

MAX_WORKERS = 64
#: Seconds to wait for a Ray head node to answer before saying it is unreachable.
REACH_TIMEOUT = 5.0


@dataclass(frozen=True)
class Parallel:
    """How many trials run at once, and where."""

    workers: int = 1
    #: blank: this machine (a local Ray instance when workers > 1); else a Ray cluster.
    address: str = ""
    cpus_per_trial: int = 1
    gpus_per_trial: float = 0.0

    def __post_init__(self) -> None:
        for name, low in (("workers", 1), ("cpus_per_trial", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.workers > MAX_WORKERS:
            raise ValueError(f"workers must be at most {MAX_WORKERS}, got {self.workers}")
        gpus = self.gpus_per_trial
        if isinstance(gpus, bool) or not isinstance(gpus, int | float) or not 0 <= gpus <= 8:
            raise ValueError(f"gpus_per_trial must be a number from 0 to 8, got {gpus!r}")
        if not isinstance(self.address, str) or any(c.isspace() for c in self.address):
            raise ValueError(
                f"ray address must be blank, 'auto', 'host:port' or 'ray://host:port', "
                f"got {self.address!r}"
            )

    @property
    def uses_ray(self) -> bool:
        return self.workers > 1 or bool(self.address)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Parallel:
        return cls(**dict(data or {}))


def auto_workers(cpus_per_trial: int = 1, cores: int | None = None) -> int:
    """How many trials at once ``--workers auto`` runs on this machine: one per
    ``cpus_per_trial`` cores. On 2 cores, two trials with one TensorFlow thread each trained
    more trials per hour than one trial with two threads (docs/BENCHMARKS.md)."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, cpus_per_trial))


class ClusterUnreachable(RuntimeError):  # noqa: N818 (reads as the message)
    """The Ray address given cannot be joined."""


def connect(address: str = "", *, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at ``address``, or start a local instance when it is blank
    (and ``RAY_ADDRESS`` is unset). Does nothing when Ray is already running in this process.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS", "")
    if address and address != "auto":
        _check_reachable(address)
    settings: dict[str, Any] = {"logging_level": "ERROR", "log_to_driver": False}
    if address:
        settings["address"] = address
    else:
        # "local": a new instance even when another one runs on this machine. A bare
        # ray.init() would join the newest one it finds (/tmp/ray/ray_current_cluster), a
        # cluster nobody named, and then refuse num_cpus.
        settings.update(address="local", num_cpus=num_cpus, include_dashboard=False)
    try:
        _init_in_a_lasting_thread(settings)
    except Exception as exc:  # ConnectionError, ValueError, RuntimeError, grpc errors
        where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
        raise ClusterUnreachable(f"could not join {where}: {type(exc).__name__}: {exc}") from exc


def _init_in_a_lasting_thread(settings: dict[str, Any]) -> None:
    """``ray.init(**settings)`` from a thread that lives as long as this process.

    The processes of a local Ray instance are started with a parent-death signal, which Linux
    ties to the starting *thread*: started from a thread that ends (a dashboard page's script
    run), the instance dies seconds later with it. The main thread lasts, so it calls directly.
    """
    import ray

    if threading.current_thread() is threading.main_thread():
        ray.init(**settings)
        return
    done = threading.Event()
    failed: list[BaseException] = []

    def host() -> None:
        try:
            ray.init(**settings)
        except BaseException as exc:  # handed to the caller
            failed.append(exc)
            done.set()
            return
        done.set()
        threading.Event().wait()  # keep the thread, and so the instance, alive

    threading.Thread(target=host, name="ray-host", daemon=True).start()
    done.wait()
    if failed:
        raise failed[0]


def _check_reachable(address: str) -> None:
    """Fail in seconds, not minutes, when nothing answers at ``address`` (``ray.init`` keeps
    retrying an unreachable head for minutes)."""
    client = address.startswith("ray://")
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host:
        host, port = hostport, "10001" if client else "6379"
    expected = "'auto', 'host:port' or 'ray://host:port'"
    try:
        number = int(port)
    except ValueError:
        raise ClusterUnreachable(
            f"ray address {address!r} has no valid port: expected {expected}"
        ) from None
    try:
        with socket.create_connection((host, number), timeout=REACH_TIMEOUT):
            pass
    except OSError as exc:
        raise ClusterUnreachable(
            f"could not reach the Ray cluster at {address!r} ({exc}): is its head node "
            f"running, and is the address one of {expected}?"
        ) from None


def resources() -> dict[str, float]:
    """The CPUs and GPUs of the Ray cluster this process is connected to."""
    import ray

    total = ray.cluster_resources()
    return {"CPU": float(total.get("CPU", 0.0)), "GPU": float(total.get("GPU", 0.0))}


def connected_resources() -> dict[str, float] | None:
    """The Ray cluster's CPUs and GPUs if this process has joined one, else None (never
    starts Ray, nor imports it when no study used it)."""
    import sys

    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    return resources()


class TrialActor:
    """A Ray actor that trains one trial at a time on the dataset from the object store.

    Its methods run on separate threads (the actor is created with ``max_concurrency``), so
    the driver can read the epochs so far and cancel while ``trial`` trains.
    """

    def __init__(self, dataset: Dataset, threads: int, model: Any = None) -> None:
        quiet_tensorflow(threads)
        self._trainer = LocalTrainer(dataset, model)
        self._epochs: list[EpochMetrics] = []
        self._stop_as = 0  # a stop request, as one of STOP_CODES

    def info(self) -> DataInfo:
        return self._trainer.info

    def pid(self) -> int:
        return os.getpid()

    def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def trial(self, params: dict[str, Any], budget: dict[str, Any], seed: int) -> TrialOutcome:
        self._epochs = []
        self._stop_as = 0
        return self._trainer.trial(
            params,
            Budget(**budget),
            seed=seed,
            on_epoch=self._epochs.append,
            should_stop=lambda: STOP_CODES[self._stop_as],
        )

    def final(
        self, params: dict[str, Any], budget: dict[str, Any], seed: int, path: str
    ) -> tuple[str, Any]:
        self._stop_as = 0
        retrain = functools.partial(self._trainer.final, params, Budget(**budget), seed=seed,
                                    path=Path(path), should_stop=lambda: bool(self._stop_as))  # fmt: skip
        return final_message(retrain)

    def epochs(self, since: int) -> list[EpochMetrics]:
        return self._epochs[since:]

    def cancel(self, code: int = 1) -> None:
        """Stop the trial at its next batch, to end as ``STOP_CODES[code]``."""
        self._stop_as = code


class RayTrainer(RemoteTrainer):
    """One slot of a Ray pool: trains each trial in its Ray actor, reports epochs as they end."""

    POLL = 0.2

    def __init__(
        self,
        data: Any,
        info: DataInfo,
        parallel: Parallel,
        actor: type = TrialActor,
        model: Any = None,
    ) -> None:
        super().__init__(RECYCLE_AFTER)
        self._data = data  # an ObjectRef to the dataset in Ray's object store
        self._model = model
        self._parallel = parallel
        self._actor_type = actor
        self.info = info
        self._actor: Any = None

    def _remote(self) -> Any:
        if self._actor is None:
            self._actor = (
                _actor_class(self._actor_type)
                .options(
                    num_cpus=self._parallel.cpus_per_trial,
                    num_gpus=self._parallel.gpus_per_trial,
                    max_concurrency=4,
                )
                .remote(self._data, self._parallel.cpus_per_trial, self._model)
            )
        return self._actor

    @property
    def actor(self) -> Any:
        """This slot's Ray actor handle (started on first use)."""
        return self._remote()

    def _ready(self, replace: bool) -> None:
        if replace:  # TensorFlow's memory per trained model
            self._drop()

    def _submit(self, params: dict[str, Any], budget: dict[str, Any], seed: int) -> Any:
        actor = self._remote()
        return actor, actor.trial.remote(params, budget, seed)

    def _stop(self, job: Any, stop: TrialStatus | bool) -> None:
        job[0].cancel.remote(stop_code(stop))

    def _poll(self, job: Any, seen: int) -> tuple[list[EpochMetrics], TrialOutcome | None]:
        import ray

        actor, result = job
        ready, _ = ray.wait([result], timeout=self.POLL)
        epochs = ray.get(actor.epochs.remote(seen))
        return epochs, ray.get(result) if ready else None

    def _failure(self, exc: Exception) -> tuple[str, bool] | None:
        from ray.exceptions import RayError, RayTaskError

        if isinstance(exc, RayTaskError):  # the trial's own code raised: not the worker's
            return f"{type(exc.cause).__name__}: {_first_line(exc.cause)}", False
        if isinstance(exc, RayError):
            self._drop()
            return f"the Ray worker was lost: {type(exc).__name__}: {_first_line(exc)}", True
        return None

    def final(
        self,
        params: Mapping[str, Any],
        budget: Budget,
        *,
        seed: int,
        path: Path,
        should_stop: StopCheck,
    ) -> dict[str, Any]:
        import ray

        actor = self._remote()
        result = actor.final.remote(dict(params), budget.to_dict(), seed, str(path))
        while not ray.wait([result], timeout=self.POLL)[0]:
            if should_stop():
                actor.cancel.remote()
        return final_result(ray.get(result))

    def _drop(self) -> None:
        import ray

        if self._actor is not None:
            try:
                ray.kill(self._actor)
            except Exception:  # already gone with its node
                pass
        self._actor = None
        self._served = 0

    def close(self) -> None:
        self._drop()


@functools.cache
def _actor_class(actor: type) -> Any:
    import ray

    return ray.remote(actor)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


class Pool:
    """The trainers of one study: one per slot."""

    def __init__(self, trainers: list[Trainer], *, kind: str) -> None:
        self.trainers = trainers
        self.kind = kind

    @property
    def slots(self) -> int:
        return len(self.trainers)

    @property
    def info(self) -> DataInfo:
        return self.trainers[0].info

    def capacity(self, parallel: Parallel) -> int:
        """How many trials the cluster can train at once now (a node may have left)."""
        if self.kind != "ray":
            return self.slots
        offered = resources()
        fits = int(offered["CPU"] // parallel.cpus_per_trial)
        if parallel.gpus_per_trial:
            fits = min(fits, int(offered["GPU"] // parallel.gpus_per_trial))
        return fits

    def revive(self, slot: int, in_use: int, parallel: Parallel, timeout: float = 120.0) -> bool:
        """After the worker of ``slot`` was lost: True once a new one answers; False (and
        the slot is given up) when the cluster has no room left for it beside the ``in_use``
        slots (its node left), or no new worker answers within ``timeout`` seconds."""
        trainer = self.trainers[slot]
        if not isinstance(trainer, RayTrainer):
            return True  # a local trainer starts a new child process itself
        import ray
        from ray.exceptions import RayError

        probe = trainer.actor.pid.remote()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ray.wait([probe], timeout=0.5)[0]:
                    ray.get(probe)
                    return True
            except RayError:
                break
            if self.capacity(parallel) <= in_use:
                break
        trainer.close()
        return False

    def close(self) -> None:
        for trainer in self.trainers:
            trainer.close()


def prepare(parallel: Parallel) -> None:
    """Join (or start) Ray if ``parallel`` needs it, and check that the cluster can run one
    trial; raises :class:`ClusterUnreachable` or ValueError with what is wrong. Called before
    a study is stored, so a bad address stores nothing."""
    if not parallel.uses_ray:
        return
    connect(parallel.address)
    offered = resources()
    if parallel.cpus_per_trial > offered["CPU"] or parallel.gpus_per_trial > offered["GPU"]:
        raise ValueError(
            f"each trial asks for {parallel.cpus_per_trial} CPUs and "
            f"{parallel.gpus_per_trial:g} GPUs, but the Ray cluster has {offered['CPU']:g} CPUs "
            f"and {offered['GPU']:g} GPUs"
        )


def make_pool(
    dataset: Dataset,
    parallel: Parallel,
    *,
    isolate: bool,
    actor: type = TrialActor,
    model: Any = None,
) -> Pool:
    """Trainers for ``dataset`` as ``parallel`` asks: one local trainer, or N Ray slots whose
    actors are ``actor`` (:class:`TrialActor`, or a stand-in with its methods). ``model``:
    None for the seed's CNN, else a user's builder or its spec."""
    if not parallel.uses_ray:
        return Pool([make_trainer(dataset, isolate=isolate, model=model)], kind="local")
    import ray

    prepare(parallel)
    info = LocalTrainer(dataset).info
    data = ray.put(dataset)
    slots = [RayTrainer(data, info, parallel, actor, model) for _ in range(parallel.workers)]
    return Pool(slots, kind="ray")
