"""What a task costs besides wall time: CPU-seconds and the peak memory of its process tree.

Airflow's callbacks bracket the task: `on_execute_callback` starts a watch, the success
callback (task_timing.py) stops it and records the figures. They run in the process that
runs the task, which is a fresh fork per task under the scheduler and one long process
for every task under `airflow dags test`, so both figures are taken as differences from
the task's start, never as the process's lifetime totals:

- CPU-seconds: user + system time of the process and of the children it has waited for
  (spark-submit's JVM), at the end minus at the start. Spark's Python workers are the
  JVM's children, which it does not wait for, so their time is not in the figure: the
  normalise task's CPU-seconds understate it (20 s for a 248 s full-scale ingest).
- Peak memory: the resident memory of the process and all its live descendants, summed,
  sampled every `interval` seconds by a daemon thread; a child that lives less than one
  interval can be missed, which a task that matters here (Spark, the photo search) does not.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import psutil

log = logging.getLogger(__name__)


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def _tree_rss(process: psutil.Process) -> int:
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:   # gone between listing and reading
            pass
    return total


@dataclass
class ResourceWatch:
    interval: float = 0.5
    process: psutil.Process = field(default_factory=psutil.Process)
    peak_rss: int = 0
    _cpu_at_start: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> "ResourceWatch":
        self._cpu_at_start = _cpu_seconds(self.process)
        self.peak_rss = _tree_rss(self.process)
        self._thread = threading.Thread(target=self._sample, name="task-resources", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.peak_rss = max(self.peak_rss, _tree_rss(self.process))
            except psutil.Error:
                pass

    def stop(self) -> tuple[float, float]:
        """(CPU-seconds, peak memory in MB) since start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.peak_rss = max(self.peak_rss, _tree_rss(self.process))
        return round(_cpu_seconds(self.process) - self._cpu_at_start, 2), round(self.peak_rss / 2**20, 1)


_WATCHES: dict[tuple, ResourceWatch] = {}


def _key(context) -> tuple:
    ti = context["ti"]
    return (context.get("run_id"), ti.task_id, ti.map_index if ti.map_index is not None else -1)


def on_task_start(context) -> None:
    """on_execute_callback: never fails the task it watches."""
    try:
        _WATCHES[_key(context)] = ResourceWatch().start()
    except Exception as exc:
        log.warning("could not watch the resources of %s: %s", context["ti"].task_id, exc)


def finish(context) -> tuple[float | None, float | None]:
    """The task's (CPU-seconds, peak memory MB); (None, None) when no watch was started."""
    watch = _WATCHES.pop(_key(context), None)
    return watch.stop() if watch else (None, None)
