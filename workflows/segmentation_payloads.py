"""The population segmentation run: its input, plan, batches and progress.

The run continues-as-new before its history grows, carrying the plan, the next batch and the
progress so far (`SegmentationRunInput`). Batch bounds and cut points stay in the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SegmentationPlan:
    """The run's policy version, population size and number of keyset batches (the batch
    bounds and cut points stay in the store; `bounds` is unused since keyset batches)."""

    policy_version: str
    total: int
    bounds: list[list[str]] = field(default_factory=list)
    batches: int = 0


@dataclass
class SegmentationBatch:
    """One batch of a run: its number `seq` (its keyset range is stored with the run)."""

    run_id: str
    policy_version: str
    lo: str = ""
    hi: str = ""
    actor: str = "segmentation"
    seq: int = -1


@dataclass
class SegmentationBatchResult:
    """What a batch did."""

    customers: int
    changed: int
    started: int
    stopped: int


@dataclass
class SegmentationProgress:
    """`progress` query result and the run's output."""

    run_id: str
    stage: str
    policy_version: str = ""
    total: int = 0
    done: int = 0
    changed: int = 0
    batches: int = 0
    batches_done: int = 0
    processes_started: int = 0
    processes_stopped: int = 0
    seconds: float = 0.0
    started_at: str = ""
    customers_per_second: float = 0.0
    eta_seconds: float | None = None
    runs: int = 1  # workflow runs so far (the run continues-as-new before its history grows)


@dataclass
class SegmentationRunInput:
    """Start of a whole-population segmentation run (and its continuation: the plan, the
    next batch and the progress so far are carried across continue-as-new)."""

    run_id: str
    requested_by: str
    batch_size: int = 5000
    parallelism: int = 2
    plan: SegmentationPlan | None = None
    next_seq: int = 0
    progress: SegmentationProgress | None = None
    batches_per_run: int = 400
