-- Alerts received by the alerting service (service/alerting_service).
-- An alert is one (scan_id, subject_id) pair: the UNIQUE constraint, not the replicas,
-- guarantees that re-sending a pair (a retry, a re-run, two replicas racing) never
-- creates a second one.

CREATE SCHEMA IF NOT EXISTS alerts;

CREATE TABLE alerts.alerts (
    -- uuid5 of the pair, computed by the service, so a repeat can report the original id
    alert_id            uuid PRIMARY KEY,
    -- insertion order; breaks received_at ties (one batch shares one transaction time)
    seq                 bigint GENERATED ALWAYS AS IDENTITY,
    scan_id             text NOT NULL,
    subject_id          text NOT NULL,
    airport             text NOT NULL,
    date                date NOT NULL,           -- passenger day (scanned_at's date)
    match_probability   double precision NOT NULL CHECK (match_probability BETWEEN 0 AND 1),
    match_weight        double precision NOT NULL,
    model_version       text NOT NULL,
    photo_similarity    double precision,
    group_id            text,
    evidence            jsonb,                   -- per-comparison match weights
    passenger           jsonb,
    subject             jsonb,
    run_report_url      text,
    received_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT alerts_pair_key UNIQUE (scan_id, subject_id)
);

-- Reviewers list a day newest first; the undated listing reads the second index.
CREATE INDEX alerts_date_received_idx ON alerts.alerts (date, received_at DESC, seq DESC);
CREATE INDEX alerts_received_idx ON alerts.alerts (received_at DESC, seq DESC);

-- Idempotency-Key requests: the key row is inserted first in the request's transaction,
-- so a concurrent request with the same key (another replica, a load-balancer retry)
-- waits on the primary key and then replays the stored response. The response columns
-- are filled in that same transaction and are never seen empty by another request.
CREATE TABLE alerts.idempotency_keys (
    idempotency_key     text PRIMARY KEY,
    request_hash        text NOT NULL,           -- sha256 of the canonical request payload
    response_status     smallint,
    response_body       json,                    -- json, not jsonb: a replay is byte-identical
    created_at          timestamptz NOT NULL DEFAULT now()
);
