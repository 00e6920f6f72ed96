-- Reviewer decisions on alerts (PATCH /v1/alerts/{id}, the review page).
-- alerts.alerts carries the current decision so that listings can filter on it;
-- alerts.reviews is the append-only audit trail every decision is written to first.

ALTER TABLE alerts.alerts
    ADD COLUMN status text NOT NULL DEFAULT 'new'
        CONSTRAINT alerts_status_check CHECK (status IN ('new', 'confirmed', 'false_positive', 'needs_info')),
    ADD COLUMN reviewed_by text,
    ADD COLUMN reviewed_at timestamptz;

-- "What is still open today" is the reviewers' main question.
CREATE INDEX alerts_status_date_idx ON alerts.alerts (status, date, received_at DESC, seq DESC);

CREATE TABLE alerts.reviews (
    -- Also the readers' cursor (GET /v1/reviews?since=): the service inserts reviews one
    -- transaction at a time, so ids become visible in increasing order and none is skipped.
    review_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id            uuid NOT NULL REFERENCES alerts.alerts (alert_id),
    decision            text NOT NULL CHECK (decision IN ('confirmed', 'false_positive', 'needs_info')),
    previous_status     text NOT NULL,
    reviewer            text NOT NULL,           -- the person, as they named themselves
    credential_id       text NOT NULL,           -- which token they used (a hash prefix, not the token)
    note                text,
    decided_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviews_alert_idx ON alerts.reviews (alert_id, review_id);

-- Append-only: the service's own role owns the table, so a REVOKE would not bind it; a
-- trigger does, whoever connects.
CREATE FUNCTION alerts.reviews_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'alerts.reviews is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER reviews_no_update_delete BEFORE UPDATE OR DELETE ON alerts.reviews
    FOR EACH ROW EXECUTE FUNCTION alerts.reviews_append_only();
CREATE TRIGGER reviews_no_truncate BEFORE TRUNCATE ON alerts.reviews
    FOR EACH STATEMENT EXECUTE FUNCTION alerts.reviews_append_only();

-- Training labels for the pipeline, for readers with database access (the HTTP route is
-- GET /v1/reviews): each reviewed pair's latest decision, with what the model said then.
CREATE VIEW alerts.review_labels AS
SELECT DISTINCT ON (r.alert_id)
       a.scan_id, a.subject_id, a.date, a.airport, a.model_version,
       a.match_probability, a.match_weight, a.photo_similarity, a.group_id,
       r.decision, r.decided_at, r.review_id, r.alert_id
FROM alerts.reviews r
JOIN alerts.alerts a USING (alert_id)
ORDER BY r.alert_id, r.review_id DESC;
COMMENT ON VIEW alerts.review_labels IS
    'Latest reviewer decision per alert (confirmed = true match, false_positive = non-match, '
    'needs_info = undecided); one row per reviewed (scan_id, subject_id).';
