"""Every Redis key and stream name the service uses, in one place.

A deployment may share a Redis server: ``FPE_REDIS_PREFIX`` (default ``fpe``) prefixes
every name, including arq's queue, so two deployments (or two test runs) never meet.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Keys"]


@dataclass(frozen=True)
class Keys:
    prefix: str = "fpe"

    @property
    def queue(self) -> str:
        """arq's queue (a sorted set of job ids)."""
        return f"{self.prefix}:queue"

    @property
    def all_events(self) -> str:
        """Stream of every run's state changes, for dashboards."""
        return f"{self.prefix}:events"

    def run_events(self, task_id: str) -> str:
        """Stream of one run's progress events, replayable from the start."""
        return f"{self.prefix}:run:{task_id}:events"

    def run_alive(self, task_id: str) -> str:
        """Set (with a time to live) while a worker executes the run, even when it cannot
        reach the database: the reaper leaves such a run alone."""
        return f"{self.prefix}:run:{task_id}:alive"

    def job_id(self, task_id: str) -> str:
        """arq job id of a run: enqueuing the same run twice is a no-op."""
        return f"{self.prefix}:train:{task_id}"
