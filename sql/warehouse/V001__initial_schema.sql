-- Warehouse of the screening pipeline. A scan day is the unit of idempotency:
-- every per-day table is keyed by scan_day, and a re-run replaces that day's rows in
-- one transaction (see watchlist_screening.warehouse).

CREATE SCHEMA IF NOT EXISTS warehouse;

-- Watchlist snapshots are loaded once per distinct content hash, so a backfill of an
-- old day can name the version it was screened against.
CREATE TABLE warehouse.watchlist_versions (
    version_id      serial PRIMARY KEY,
    content_hash    text NOT NULL UNIQUE,
    source_file     text NOT NULL,
    row_count       integer NOT NULL,
    quarantined     integer NOT NULL,
    loaded_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE warehouse.watchlist (
    version_id          integer NOT NULL REFERENCES warehouse.watchlist_versions (version_id) ON DELETE CASCADE,
    subject_id          text NOT NULL,
    given_names         text,
    surname             text,
    given_names_norm    text,
    surname_norm        text,
    full_name_norm      text,
    -- every name the subject is known under (primary first), normalised like full_name_norm
    all_names_norm      text[] NOT NULL,
    date_of_birth       date,
    -- primary date of birth first, then alias dates of birth
    all_dobs            date[] NOT NULL,
    aliases             jsonb NOT NULL DEFAULT '[]'::jsonb,
    place_of_birth      text,
    place_of_birth_norm text,
    nationality         text,
    sex                 text NOT NULL,
    height_cm           real NOT NULL,
    eye_colour          text NOT NULL,
    face_embedding      real[] NOT NULL,   -- L2-normalised, 128 values
    offence             text,
    caution             text,
    listed_on           date,
    source_line         integer NOT NULL,
    PRIMARY KEY (version_id, subject_id)
);

CREATE TABLE warehouse.passengers (
    scan_day            date NOT NULL,
    scan_id             text NOT NULL,
    airport             text NOT NULL,
    scanned_at          timestamptz NOT NULL,
    direction           text,
    flight_number       text,
    document_number     text,
    issuing_country     text,
    given_names         text,
    surname             text,
    given_names_norm    text,
    surname_norm        text,
    full_name_norm      text,
    date_of_birth       date,
    place_of_birth      text,
    place_of_birth_norm text,
    nationality         text,
    sex                 text NOT NULL,
    height_cm           real NOT NULL,
    eye_colour          text NOT NULL,
    face_embedding      real[] NOT NULL,   -- L2-normalised, 128 values
    source_file         text NOT NULL,
    source_line         integer NOT NULL,
    PRIMARY KEY (scan_day, scan_id)
);

-- Every rejected input line, never dropped: file, line number, raw text and why.
CREATE TABLE warehouse.quarantine (
    scan_day        date,            -- NULL for watchlist lines
    dataset         text NOT NULL CHECK (dataset IN ('passengers', 'watchlist')),
    watchlist_version integer,
    source_file     text NOT NULL,
    line_number     integer NOT NULL,
    raw_text        text NOT NULL,
    reason          text NOT NULL,   -- machine-readable code, e.g. not_json, missing_field
    detail          text NOT NULL,   -- human-readable, names the field at fault
    quarantined_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_day_idx ON warehouse.quarantine (dataset, scan_day);
CREATE INDEX quarantine_version_idx ON warehouse.quarantine (dataset, watchlist_version);

CREATE TABLE warehouse.models (
    model_version   text PRIMARY KEY,
    trained_at      timestamptz NOT NULL DEFAULT now(),
    training_from   date NOT NULL,
    training_to     date NOT NULL,
    watchlist_version integer REFERENCES warehouse.watchlist_versions (version_id),
    model_path      text NOT NULL,
    model_json      jsonb NOT NULL,
    training_notes  jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE warehouse.matches (
    scan_day            date NOT NULL,
    scan_id             text NOT NULL,
    subject_id          text NOT NULL,
    watchlist_version   integer NOT NULL,
    model_version       text NOT NULL,
    match_probability   double precision NOT NULL,
    match_weight        double precision NOT NULL,
    photo_similarity    double precision NOT NULL,
    evidence            jsonb NOT NULL,   -- per-comparison match weights
    group_id            text,
    PRIMARY KEY (scan_day, scan_id, subject_id)
);

-- One row per screened day: the run summary that `make run` prints.
CREATE TABLE warehouse.day_runs (
    scan_day                date PRIMARY KEY,
    watchlist_version       integer,
    passengers              integer NOT NULL DEFAULT 0,
    quarantined             integer NOT NULL DEFAULT 0,
    quarantined_by_reason   jsonb NOT NULL DEFAULT '{}'::jsonb,
    candidate_pairs         bigint NOT NULL DEFAULT 0,
    matches                 integer NOT NULL DEFAULT 0,
    alerts_sent             integer NOT NULL DEFAULT 0,
    model_version           text,
    updated_at              timestamptz NOT NULL DEFAULT now()
);
