-- Watched folders and prefixes (`lake ingest --watch DIR|s3://bucket/prefix/ --stream NAME`):
-- a stream whose position counts files, and every file it has seen, recorded in the same
-- transaction as the version that holds it (or, for a file that could not be read, as a dead
-- letter), so a restarted watcher reads each file exactly once.
ALTER TABLE streams ADD COLUMN kind TEXT NOT NULL DEFAULT 'records'
    CHECK (kind IN ('records', 'files'));
ALTER TABLE streams ADD COLUMN source TEXT;  -- the watched folder or prefix

CREATE TABLE stream_files (
    stream     TEXT NOT NULL,
    key        TEXT NOT NULL,             -- the file's path under the watched folder or prefix
    size       INTEGER NOT NULL,
    modified   TEXT NOT NULL,             -- modification time as listed (RFC 3339, UTC)
    etag       TEXT,                      -- the object's ETag, for a prefix
    sha256     TEXT,                      -- of the bytes as stored, once read
    status     TEXT NOT NULL CHECK (status IN ('ingested', 'dead')),
    version_id INTEGER REFERENCES versions (id),
    error      TEXT,                      -- why a dead letter could not be ingested
    at         TEXT NOT NULL,
    PRIMARY KEY (stream, key)
);
CREATE INDEX stream_files_dead ON stream_files (status) WHERE status = 'dead';
