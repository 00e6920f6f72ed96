-- An alert's revisions go with it when an operator deletes the alert itself (the API never
-- does; test clean-ups and data-retention jobs do): V003's foreign key refused that, and
-- its append-only trigger refused the cascade. Revisions still cannot be changed, nor
-- deleted on their own.
ALTER TABLE alerts.alert_revisions
    DROP CONSTRAINT alert_revisions_alert_id_fkey,
    ADD CONSTRAINT alert_revisions_alert_id_fkey
        FOREIGN KEY (alert_id) REFERENCES alerts.alerts (alert_id) ON DELETE CASCADE;

DROP TRIGGER alert_revisions_no_update_delete ON alerts.alert_revisions;
CREATE TRIGGER alert_revisions_no_update BEFORE UPDATE ON alerts.alert_revisions
    FOR EACH ROW EXECUTE FUNCTION alerts.append_only();
-- Depth 0: a DELETE on the table itself; a cascade from alerts.alerts runs inside a trigger.
CREATE TRIGGER alert_revisions_no_direct_delete BEFORE DELETE ON alerts.alert_revisions
    FOR EACH ROW WHEN (pg_trigger_depth() = 0) EXECUTE FUNCTION alerts.append_only();
