-- Lifecycle: rules that archive and expire old versions, and when and why each version moved.

CREATE TABLE rules (
    id                INTEGER PRIMARY KEY,
    zone              TEXT CHECK (zone IN ('bronze', 'silver', 'gold')),   -- NULL: every zone
    dataset_glob      TEXT NOT NULL DEFAULT '*',                          -- on the dataset name
    archive_after_s   INTEGER,                                            -- age at which to archive
    keep_last         INTEGER NOT NULL DEFAULT 0,                          -- newest versions never archived
    expire_after_s    INTEGER,                                            -- age at which archived data is deleted
    keep_inputs       INTEGER NOT NULL DEFAULT 0,                          -- spare inputs of live silver/gold versions
    origin            TEXT NOT NULL DEFAULT 'cli',                         -- cli | config
    created_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    removed_at        TEXT                                                -- kept: versions name their rule
);

ALTER TABLE versions ADD COLUMN archived_at TEXT;
ALTER TABLE versions ADD COLUMN archive_rule_id INTEGER REFERENCES rules (id);
ALTER TABLE versions ADD COLUMN expired_at TEXT;
ALTER TABLE versions ADD COLUMN expire_rule_id INTEGER REFERENCES rules (id);
