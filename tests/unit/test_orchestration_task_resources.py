"""A task's CPU-seconds and peak memory, taken as differences from its start, its children
included (spark-submit is a child of the normalise task)."""
from __future__ import annotations

import subprocess
import sys
import time
from types import SimpleNamespace

from watchlist_screening.orchestration import task_resources

HOLD_200_MB = "import time; b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"


def test_a_child_s_memory_and_cpu_count_for_the_task():
    watch = task_resources.ResourceWatch(interval=0.1).start()
    subprocess.run([sys.executable, "-c", HOLD_200_MB], check=True)
    spin_until = time.process_time() + 0.3
    while time.process_time() < spin_until:
        pass
    cpu, peak_mb = watch.stop()
    assert cpu >= 0.3
    assert peak_mb >= 200


def test_figures_start_at_the_task_not_the_process():
    spin_until = time.process_time() + 0.5   # an earlier task's CPU
    while time.process_time() < spin_until:
        pass
    cpu, _ = task_resources.ResourceWatch(interval=0.1).start().stop()
    assert cpu < 0.4


def _context(task_id: str) -> dict:
    return {"run_id": "manual__1", "ti": SimpleNamespace(task_id=task_id, map_index=None)}


def test_callbacks_pair_up_by_run_task_and_map_index():
    task_resources.on_task_start(_context("score_day"))
    cpu, peak = task_resources.finish(_context("score_day"))
    assert cpu is not None and peak > 0
    assert task_resources.finish(_context("score_day")) == (None, None)   # a finish without a start
