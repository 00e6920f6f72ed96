-- warehouse.passengers partitioned by scan_day, one partition per day: the normalisation
-- job builds a day's partition from its staging table and swaps it in with DROP + ATTACH
-- in one transaction (watchlist_screening.normalise.publish), instead of deleting the
-- day's rows and copying a million new ones with INSERT ... SELECT.
-- Partitions are named passengers_<yyyymmdd>_<run>; readers keep querying the parent.
ALTER TABLE warehouse.passengers RENAME TO passengers_unpartitioned;
ALTER INDEX warehouse.passengers_pkey RENAME TO passengers_unpartitioned_pkey;

CREATE TABLE warehouse.passengers (LIKE warehouse.passengers_unpartitioned INCLUDING ALL)
    PARTITION BY LIST (scan_day);

DO $$
DECLARE
    day date;
BEGIN
    FOR day IN SELECT DISTINCT scan_day FROM warehouse.passengers_unpartitioned LOOP
        EXECUTE format('CREATE TABLE warehouse.%I PARTITION OF warehouse.passengers FOR VALUES IN (%L)',
                       'passengers_' || to_char(day, 'YYYYMMDD') || '_v004', day);
    END LOOP;
END $$;

INSERT INTO warehouse.passengers SELECT * FROM warehouse.passengers_unpartitioned;
DROP TABLE warehouse.passengers_unpartitioned;
