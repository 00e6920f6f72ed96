-- gRPC WatchAlerts streams new alerts in seq order from a watcher's cursor: an index walk,
-- not a scan of every alert ever stored, each time a console polls.
CREATE UNIQUE INDEX alerts_seq_idx ON alerts.alerts (seq);
