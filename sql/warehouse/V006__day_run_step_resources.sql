-- What each task of a day's run cost besides wall time: CPU-seconds (the task's process and
-- the children it waited for, such as spark-submit and its workers) and the peak memory of
-- its process tree, sampled (orchestration/task_resources.py). NULL where not measured.
ALTER TABLE warehouse.day_run_steps
    ADD COLUMN cpu_seconds double precision,
    ADD COLUMN peak_memory_mb double precision;
