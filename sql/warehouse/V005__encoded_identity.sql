-- Privacy-preserving mode (issue 17, WATCHLIST_PRIVACY_MODE=encoded): the landing zone
-- holds the edge encoder's keyed Bloom filters (CLKs, base64 of 128 bytes) instead of
-- names and dates, and a protected face template (the embedding under a keyed rotation)
-- instead of the raw embedding. An encoded record keeps its clear identity columns NULL
-- (the watchlist's name and date arrays empty) and its template in face_embedding: the
-- rotation keeps cosine, which is all the linkage reads of it.
ALTER TABLE warehouse.passengers
    ADD COLUMN name_clk text,
    ADD COLUMN surname_clk text,
    ADD COLUMN dob_clk text,
    ADD COLUMN place_of_birth_clk text,
    ADD COLUMN nationality_clk text;

ALTER TABLE warehouse.watchlist
    ADD COLUMN name_clks text[],      -- primary full name first, then one per alias
    ADD COLUMN surname_clks text[],   -- the same order
    ADD COLUMN dob_clk text,
    ADD COLUMN dob_clks text[],       -- primary date of birth first, then the aliases' own
    ADD COLUMN place_of_birth_clk text,
    ADD COLUMN nationality_clk text;

-- Which mode a watchlist version and a day were loaded in, and the encoding key's
-- fingerprint (encoding.json): a day is only linked against a list encoded with its key.
ALTER TABLE warehouse.watchlist_versions
    ADD COLUMN privacy_mode text NOT NULL DEFAULT 'clear' CHECK (privacy_mode IN ('clear', 'encoded')),
    ADD COLUMN key_fingerprint text;

ALTER TABLE warehouse.day_runs
    ADD COLUMN privacy_mode text NOT NULL DEFAULT 'clear' CHECK (privacy_mode IN ('clear', 'encoded')),
    ADD COLUMN key_fingerprint text;
