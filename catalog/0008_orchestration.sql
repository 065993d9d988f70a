-- Orchestration: runs gain the states of a scheduler (waiting on a requirement, timed out,
-- cancelled), their attempt number, the first attempt they retry, and what started them; the
-- scheduler's lease; and the last cron slot each scheduled job was considered at.

CREATE TABLE runs_next (
    id                INTEGER PRIMARY KEY,
    job               TEXT NOT NULL,
    job_path          TEXT NOT NULL,
    sql_digest        TEXT NOT NULL,
    sql_text          TEXT NOT NULL,
    inputs_key        TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('success', 'failed', 'skipped', 'waiting',
                                                      'timed_out', 'cancelled')),
    output_version_id INTEGER REFERENCES versions (id),
    rows              INTEGER,
    bytes             INTEGER,
    backfill          INTEGER NOT NULL DEFAULT 0,
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    duration_ms       INTEGER NOT NULL,
    error             TEXT,
    actor             TEXT NOT NULL,
    attempt           INTEGER NOT NULL DEFAULT 1,  -- 1 for a first attempt, 2 for its first retry
    retry_of          INTEGER REFERENCES runs (id), -- the first attempt, for every later one
    trigger           TEXT NOT NULL DEFAULT 'promote', -- promote | on_new_input | cron | after | retry | backfill
    partition         TEXT                      -- the one partition a backfill run wrote
);
INSERT INTO runs_next (id, job, job_path, sql_digest, sql_text, inputs_key, status,
                       output_version_id, rows, bytes, backfill, started_at, finished_at,
                       duration_ms, error, actor)
SELECT id, job, job_path, sql_digest, sql_text, inputs_key, status, output_version_id, rows,
       bytes, backfill, started_at, finished_at, duration_ms, error, actor
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_next RENAME TO runs;
CREATE INDEX runs_by_job ON runs (job, id);
CREATE INDEX runs_by_status ON runs (status, id);

-- One holder per lease name (`scheduler`): a live owner keeps it; a dead one's is taken over.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES owners (id),
    acquired_at TEXT NOT NULL
);

-- Partitioned outputs (`-- partition_by: day(order_ts)`): each file holds one partition, and
-- each version lists the partitions it has (with their rows, 0 for a partition that is present
-- but empty), so a backfill of one partition replaces exactly that partition's files.
ALTER TABLE files ADD COLUMN partition TEXT;
CREATE TABLE version_partitions (
    version_id INTEGER NOT NULL REFERENCES versions (id),
    partition  TEXT NOT NULL,
    rows       INTEGER NOT NULL,
    PRIMARY KEY (version_id, partition)
);

-- A check written `check[warn]:` records its failures without blocking the commit.
ALTER TABLE check_results ADD COLUMN severity TEXT NOT NULL DEFAULT 'error'
    CHECK (severity IN ('error', 'warn'));

-- The latest cron slot at which `lake run` considered a job (ran it, or found it up to date).
CREATE TABLE schedule_slots (
    job       TEXT PRIMARY KEY,
    last_slot TEXT NOT NULL
);
