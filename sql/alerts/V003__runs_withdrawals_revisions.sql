-- Re-runs of a day (issue 13, item 7): an alert the new run still supports gets the new
-- run's content with its earlier state kept as a revision; an alert it no longer supports
-- is withdrawn (never deleted, its review status kept); logging out revokes the session.

ALTER TABLE alerts.alerts
    ADD COLUMN run_id              text,            -- the run that last sent the alert
    ADD COLUMN revision            integer NOT NULL DEFAULT 1,
    ADD COLUMN updated_at          timestamptz,
    ADD COLUMN withdrawn_at        timestamptz,     -- set: a later run no longer supports it
    ADD COLUMN withdrawn_by_run    text,
    ADD COLUMN withdrawn_by_model  text;

-- A run's completion looks for the day's active alerts another run sent.
CREATE INDEX alerts_active_date_run_idx ON alerts.alerts (date, run_id) WHERE withdrawn_at IS NULL;

-- Earlier states of alerts, appended when an update or a withdrawal supersedes one.
CREATE TABLE alerts.alert_revisions (
    alert_id            uuid NOT NULL REFERENCES alerts.alerts (alert_id),
    revision            integer NOT NULL,        -- the revision this row was
    superseded_at       timestamptz NOT NULL DEFAULT now(),
    superseded_by_run   text,
    change              text NOT NULL CHECK (change IN ('updated', 'withdrawn')),
    record              jsonb NOT NULL,          -- the alert row as it stood
    PRIMARY KEY (alert_id, revision)
);

CREATE FUNCTION alerts.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only (% refused)', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER alert_revisions_no_update_delete BEFORE UPDATE OR DELETE ON alerts.alert_revisions
    FOR EACH ROW EXECUTE FUNCTION alerts.append_only();
CREATE TRIGGER alert_revisions_no_truncate BEFORE TRUNCATE ON alerts.alert_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION alerts.append_only();

-- Pipeline runs per passenger day. Only the day's newest run (latest started_at) withdraws:
-- an old run's late completion must not withdraw what a newer run sent.
CREATE TABLE alerts.runs (
    date                date NOT NULL,
    run_id              text NOT NULL,
    model_version       text,
    batches             integer,                 -- how many batches the run sends for the day
    started_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    completed_at        timestamptz,
    withdrawn           integer,                 -- alerts it withdrew on completion
    PRIMARY KEY (date, run_id)
);
CREATE TABLE alerts.run_batches (
    date                date NOT NULL,
    run_id              text NOT NULL,
    batch               integer NOT NULL,
    done_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (date, run_id, batch),
    FOREIGN KEY (date, run_id) REFERENCES alerts.runs (date, run_id)
);

-- Review-page sessions ended by logging out, until they would have expired anyway.
CREATE TABLE alerts.revoked_sessions (
    session_id          text PRIMARY KEY,        -- the session's nonce (not a secret)
    expires_at          timestamptz NOT NULL
);
