"""The statuses a trial and a study can have: one definition, compared as plain strings."""

from __future__ import annotations

from enum import StrEnum


class TrialStatus(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"  # diverged, raised, or learned nothing: counted, told as a penalty
    CANCELLED = "cancelled"  # stopped or interrupted: kept, not counted
    PRUNED = "pruned"  # stopped early by the pruner: counted, told projected to the budget

    @property
    def finished(self) -> bool:
        """It has an outcome, told to the optimizer (counted towards the study's total when
        the study trained it: :attr:`TrialOrigin.counted`)."""
        return self in (TrialStatus.COMPLETE, TrialStatus.FAILED, TrialStatus.PRUNED)

    @property
    def told(self) -> bool:
        """Its value is told to the optimizer (a failed trial is told as a penalty)."""
        return self in (TrialStatus.COMPLETE, TrialStatus.PRUNED)


class TrialOrigin(StrEnum):
    """Where a trial's point came from."""

    SEARCH = "search"  # asked of the optimizer: random start or GP-guided (``Trial.guided``)
    CHOSEN = "chosen"  # a point a person asked for ("try here next"): trained here
    TOLD = "told"  # a result a person typed in, trained elsewhere: told, never trained here
    INHERITED = "inherited"  # a warm start's: a trial of an earlier study, told first

    @property
    def counted(self) -> bool:
        """Trained by this study, so counted towards its total."""
        return self in (TrialOrigin.SEARCH, TrialOrigin.CHOSEN)

    @property
    def label(self) -> str:
        return {"search": "", "chosen": "chosen by you", "told": "added by you",
                "inherited": "inherited"}[self.value]  # fmt: skip


class StudyStatus(StrEnum):
    CREATED = "created"
    LOADING = "loading"  # a runner's, never stored
    RUNNING = "running"
    RETRAINING = "retraining"  # a runner's, never stored
    COMPLETE = "complete"
    STOPPED = "stopped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # derived: stored as running, but its process is gone

    @property
    def active(self) -> bool:
        """A runner is at work on it."""
        return self in (
            StudyStatus.CREATED,
            StudyStatus.LOADING,
            StudyStatus.RUNNING,
            StudyStatus.RETRAINING,
        )


#: What the store keeps; the others are a runner's moments or derived on reading.
STORED_STUDY_STATUSES = (
    StudyStatus.CREATED,
    StudyStatus.RUNNING,
    StudyStatus.COMPLETE,
    StudyStatus.STOPPED,
    StudyStatus.FAILED,
)
