-- Promote: job runs, their inputs, data checks, and lineage between versions and columns.

-- One execution of a job. A successful run names the version it committed.
CREATE TABLE runs (
    id                INTEGER PRIMARY KEY,
    job               TEXT NOT NULL,            -- the output dataset, `silver.orders_clean`
    job_path          TEXT NOT NULL,            -- jobs/silver/orders_clean.sql
    sql_digest        TEXT NOT NULL,            -- sha256 of the job file
    sql_text          TEXT NOT NULL,
    inputs_key        TEXT NOT NULL,            -- the exact inputs, for up-to-date checks
    status            TEXT NOT NULL CHECK (status IN ('success', 'failed', 'skipped')),
    output_version_id INTEGER REFERENCES versions (id),
    rows              INTEGER,
    bytes             INTEGER,
    backfill          INTEGER NOT NULL DEFAULT 0,
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    duration_ms       INTEGER NOT NULL,
    error             TEXT,
    actor             TEXT NOT NULL
);
CREATE INDEX runs_by_job ON runs (job, id);

CREATE TABLE run_inputs (
    run_id     INTEGER NOT NULL REFERENCES runs (id),
    version_id INTEGER NOT NULL REFERENCES versions (id),
    PRIMARY KEY (run_id, version_id)
);

-- Data checks of a run; passing results of a committed run also name its version.
CREATE TABLE check_results (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES runs (id),
    version_id INTEGER REFERENCES versions (id),
    name       TEXT NOT NULL,                   -- as written: not_null(order_id)
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pass', 'fail')),
    failing    INTEGER NOT NULL,
    sample     TEXT                             -- JSON rows that failed
);
CREATE INDEX check_results_by_version ON check_results (version_id);

-- input version -> output version
CREATE TABLE lineage_edges (
    output_version_id INTEGER NOT NULL REFERENCES versions (id),
    input_version_id  INTEGER NOT NULL REFERENCES versions (id),
    PRIMARY KEY (output_version_id, input_version_id)
);
CREATE INDEX lineage_edges_by_input ON lineage_edges (input_version_id);

-- Which input columns an output column was computed from, where the plan tells.
CREATE TABLE column_lineage (
    output_version_id INTEGER NOT NULL REFERENCES versions (id),
    output_column     TEXT NOT NULL,
    input_version_id  INTEGER NOT NULL REFERENCES versions (id),
    input_column      TEXT NOT NULL,
    PRIMARY KEY (output_version_id, output_column, input_version_id, input_column)
);
