"""The pause between runs of a job started by hand (page buttons, /api/jobs)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from ..db import now_utc
from ..errors import JobBusy
from .errors import CoolingDown


class Cooldowns:
    """When each job was last started by hand, in this server process.

    Kept in memory: a restart or a second worker process starts afresh (the job
    lock still stops two runs at once)."""

    def __init__(self, seconds: int):
        self.seconds = seconds
        self.started: dict[str, datetime] = {}
        self.lock = threading.Lock()

    def ready_at(self, name: str) -> datetime | None:
        """When `name` may be started again, if that is still ahead."""
        last = self.started.get(name)
        if last is None:
            return None
        ready = last + timedelta(seconds=self.seconds)
        return ready if ready > now_utc() else None


@contextmanager
def claim(cooldowns: Cooldowns, name: str) -> Iterator[None]:
    """Start the cooldown of `name`, or raise CoolingDown while it runs. A start
    refused as busy does not count."""
    with cooldowns.lock:
        ready = cooldowns.ready_at(name)
        if ready is not None:
            wait = math.ceil((ready - now_utc()).total_seconds())
            raise CoolingDown(f"{name} was started less than {cooldowns.seconds}s ago;"
                              f" try again in {wait}s", field="job",
                              headers={"Retry-After": str(wait)})
        previous = cooldowns.started.get(name)
        cooldowns.started[name] = now_utc()
    try:
        yield
    except JobBusy:
        with cooldowns.lock:
            if previous is None:
                cooldowns.started.pop(name, None)
            else:
                cooldowns.started[name] = previous
        raise
