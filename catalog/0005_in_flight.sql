-- Work in flight, on record: the processes that write or move objects, the writes they have
-- under way (registered before their first byte), the file moves they hold leases on, and the
-- holds (pins) that protect versions as tags do.
-- Times here are from the real clock, never LAKE_NOW: they decide what is safe to delete.

-- A process of lake that writes or moves objects. Alive while the process is (same host: its
-- pid with the same start time) or, seen from another host, while its heartbeat is fresh.
CREATE TABLE owners (
    id           TEXT PRIMARY KEY,          -- random, one per process
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    proc_start   INTEGER,                   -- the process's start time in clock ticks, where known
    command      TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);

-- A write under way: every object it creates has a key starting with `prefix`. Removed by the
-- transaction that commits the version, or once its objects are removed.
CREATE TABLE writes (
    id         TEXT PRIMARY KEY,            -- the write id in its data keys
    owner_id   TEXT NOT NULL REFERENCES owners (id),
    dataset    TEXT NOT NULL,               -- zone.name
    operation  TEXT NOT NULL,               -- ingest | promote | …
    prefix     TEXT NOT NULL,               -- <zone>/<name>/data/<write id>-
    started_at TEXT NOT NULL
);
CREATE INDEX writes_by_owner ON writes (owner_id);

-- A file being moved between tiers (or deleted by expiry). One mover per file: the primary key
-- is the lease. `flipped` is set in the transaction that moves the catalog's tier; until then the
-- catalog's tier holds the good copy, after it the destination does.
CREATE TABLE moves (
    file_id    INTEGER PRIMARY KEY REFERENCES files (id),
    owner_id   TEXT NOT NULL REFERENCES owners (id),
    direction  TEXT NOT NULL CHECK (direction IN ('archive', 'restore', 'expire', 'repair')),
    from_tier  TEXT NOT NULL CHECK (from_tier IN ('hot', 'archive')),
    to_tier    TEXT NOT NULL CHECK (to_tier IN ('hot', 'archive', 'deleted')),
    flipped    INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL
);
CREATE INDEX moves_by_owner ON moves (owner_id);

-- Versions a lock file pins (`lake pin`): never archived or expired while held.
CREATE TABLE holds (
    version_id INTEGER NOT NULL REFERENCES versions (id),
    lock_path  TEXT NOT NULL,               -- absolute path of the lock file
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (version_id, lock_path)
);
CREATE INDEX holds_by_lock ON holds (lock_path);
