-- Named streams (`lake ingest - --stream NAME`): how many records of the stream are committed,
-- moved in the same transaction as the version that holds them, so a producer resumes from
-- exactly there and a re-fed batch commits nothing twice.
CREATE TABLE streams (
    name            TEXT PRIMARY KEY,
    dataset         TEXT NOT NULL,            -- zone.name
    position        INTEGER NOT NULL,         -- records committed, counted from 0
    batches         INTEGER NOT NULL,
    last_version_id INTEGER REFERENCES versions (id),
    updated_at      TEXT NOT NULL
);
