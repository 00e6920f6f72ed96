-- Wall time of every task of a day's run, written by the DAG's success callback, so the
-- run summary can show where the time went (and a re-run shows its latest try).
CREATE TABLE warehouse.day_run_steps (
    scan_day        date NOT NULL,
    task_id         text NOT NULL,
    map_index       integer NOT NULL DEFAULT -1,
    run_id          text NOT NULL,
    try_number      integer NOT NULL,
    started_at      timestamptz,
    finished_at     timestamptz NOT NULL DEFAULT now(),
    seconds         double precision,
    PRIMARY KEY (scan_day, task_id, map_index)
);
