-- Erasure: rows removed from versions already committed (`lake erase`). Each erasure is one
-- command; each version it amended keeps its number and gets a new digest, the old one kept
-- here. The predicate itself is never stored: only its salted sha256.
CREATE TABLE erasures (
    id               INTEGER PRIMARY KEY,
    at               TEXT NOT NULL,
    actor            TEXT NOT NULL,
    predicate_sha256 TEXT NOT NULL,   -- sha256 of the project salt and the predicate as parsed
    all_versions     INTEGER NOT NULL,
    rows             INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE erased_versions (
    erasure_id       INTEGER NOT NULL REFERENCES erasures (id),
    version_id       INTEGER NOT NULL REFERENCES versions (id),
    kind             TEXT NOT NULL CHECK (kind IN ('amended', 'new')),
    old_digest       TEXT NOT NULL,   -- amended: the version's digest before; new: its parent's
    new_digest       TEXT NOT NULL,
    rows_removed     INTEGER NOT NULL,
    files_rewritten  INTEGER NOT NULL,
    pending_manifest TEXT,            -- the amended manifest, until it is in storage
    PRIMARY KEY (erasure_id, version_id)
);
CREATE INDEX erased_versions_by_version ON erased_versions (version_id);

-- Moves gain `erase`: the files an erasure replaces are held under a lease until they are gone.
CREATE TABLE moves_next (
    file_id    INTEGER PRIMARY KEY REFERENCES files (id),
    owner_id   TEXT NOT NULL REFERENCES owners (id),
    direction  TEXT NOT NULL CHECK (direction IN ('archive', 'restore', 'expire', 'repair', 'erase')),
    from_tier  TEXT NOT NULL CHECK (from_tier IN ('hot', 'archive')),
    to_tier    TEXT NOT NULL CHECK (to_tier IN ('hot', 'archive', 'deleted')),
    flipped    INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL
);
INSERT INTO moves_next SELECT file_id, owner_id, direction, from_tier, to_tier, flipped, started_at
FROM moves;
DROP TABLE moves;
ALTER TABLE moves_next RENAME TO moves;
CREATE INDEX moves_by_owner ON moves (owner_id);
