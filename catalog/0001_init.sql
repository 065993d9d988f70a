-- The catalog's first schema: datasets, their immutable versions, the files and sources behind
-- each version, schemas by fingerprint, schema drift, tags and an audit trail.
-- Times are RFC 3339 UTC text with microseconds (they sort as text).

CREATE TABLE datasets (
    id          INTEGER PRIMARY KEY,
    zone        TEXT NOT NULL CHECK (zone IN ('bronze', 'silver', 'gold')),
    name        TEXT NOT NULL,
    description TEXT,
    owner       TEXT,
    created_at  TEXT NOT NULL,
    UNIQUE (zone, name)
);

-- One row per distinct schema; versions share them.
CREATE TABLE schemas (
    id          INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,   -- sha256 of schema_json
    schema_json TEXT NOT NULL           -- the manifest's `schema` object
);

CREATE TABLE schema_columns (
    schema_id INTEGER NOT NULL REFERENCES schemas (id),
    position  INTEGER NOT NULL,
    name      TEXT NOT NULL,
    data_type TEXT NOT NULL,
    nullable  INTEGER NOT NULL,
    PRIMARY KEY (schema_id, position)
);
CREATE INDEX schema_columns_by_name ON schema_columns (name);

CREATE TABLE versions (
    id               INTEGER PRIMARY KEY,
    dataset_id       INTEGER NOT NULL REFERENCES datasets (id),
    version          INTEGER NOT NULL CHECK (version >= 1),
    state            TEXT NOT NULL DEFAULT 'active'
                     CHECK (state IN ('active', 'archived', 'expired')),
    digest           TEXT NOT NULL,     -- sha256 of the manifest
    manifest_key     TEXT NOT NULL,
    schema_id        INTEGER NOT NULL REFERENCES schemas (id),
    operation        TEXT NOT NULL,     -- ingest | promote
    mode             TEXT,              -- ingest: append | overwrite
    rows             INTEGER NOT NULL,
    bytes            INTEGER NOT NULL,
    file_count       INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    state_changed_at TEXT,
    -- The second writer of a number fails here: versions are never lost or duplicated.
    UNIQUE (dataset_id, version)
);
CREATE INDEX versions_by_digest ON versions (digest);

-- Data files, relative to the root. A file may belong to many versions (append).
CREATE TABLE files (
    id         INTEGER PRIMARY KEY,
    path       TEXT NOT NULL UNIQUE,
    tier       TEXT NOT NULL DEFAULT 'hot' CHECK (tier IN ('hot', 'archive', 'deleted')),
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    rows       INTEGER NOT NULL,
    row_groups TEXT NOT NULL,           -- JSON array of row counts
    created_at TEXT NOT NULL
);

CREATE TABLE version_files (
    version_id INTEGER NOT NULL REFERENCES versions (id),
    file_id    INTEGER NOT NULL REFERENCES files (id),
    PRIMARY KEY (version_id, file_id)
);
CREATE INDEX version_files_by_file ON version_files (file_id);

-- Ingested source files, identified by content.
CREATE TABLE sources (
    id            INTEGER PRIMARY KEY,
    uri           TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    format        TEXT NOT NULL,
    rows          INTEGER NOT NULL,
    first_seen_at TEXT NOT NULL,
    UNIQUE (uri, sha256)
);
CREATE INDEX sources_by_sha256 ON sources (sha256);

-- The sources whose rows a version holds; `added` marks those its own operation ingested.
CREATE TABLE version_sources (
    version_id INTEGER NOT NULL REFERENCES versions (id),
    source_id  INTEGER NOT NULL REFERENCES sources (id),
    added      INTEGER NOT NULL,
    PRIMARY KEY (version_id, source_id)
);

-- Schema drift of a version against the one before it.
CREATE TABLE schema_changes (
    version_id  INTEGER NOT NULL REFERENCES versions (id),
    change      TEXT NOT NULL CHECK (change IN ('added', 'removed', 'retyped')),
    column_name TEXT NOT NULL,
    old_type    TEXT,
    new_type    TEXT
);
CREATE INDEX schema_changes_by_version ON schema_changes (version_id);

CREATE TABLE tags (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    name       TEXT NOT NULL,
    version_id INTEGER NOT NULL REFERENCES versions (id),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (dataset_id, name)
);

-- Who changed what, when. `detail` is JSON.
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
);
