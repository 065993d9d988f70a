-- Metadata people add (labels, column docs) and the full-text index `lake search` reads.

CREATE TABLE dataset_labels (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    key        TEXT NOT NULL,
    value      TEXT,
    PRIMARY KEY (dataset_id, key)
);

CREATE TABLE column_docs (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    column_name TEXT NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (dataset_id, column_name)
);

-- One row per dataset (rowid = datasets.id), rebuilt whenever what it indexes changes.
CREATE VIRTUAL TABLE search_index USING fts5 (
    name,          -- zone.name, and the name's words
    description,
    owner,
    labels,
    columns,       -- the current schema's column names
    column_docs,
    job_sql,       -- the SQL of the job that builds it
    tokenize = 'unicode61 remove_diacritics 2'
);
