-- Search: column names of past schemas become searchable text (with `lake search --ever`), in a
-- field of their own so that plain searches still match only the current schema.

DROP TABLE search_index;

CREATE VIRTUAL TABLE search_index USING fts5 (
    name,          -- zone.name, and the name's words
    description,
    owner,
    labels,
    columns,       -- the current schema's column names
    column_docs,
    job_sql,       -- the SQL of the job that builds it
    past_columns,  -- names in earlier schemas that the current one no longer has
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Filled again here; from now on every commit and annotation keeps it current.
INSERT INTO search_index (rowid, name, description, owner, labels, columns, column_docs, job_sql, past_columns)
SELECT d.id, d.zone || '.' || d.name, coalesce(d.description, ''), coalesce(d.owner, ''),
       coalesce((SELECT group_concat(l.key || coalesce('=' || l.value, ''), ' ')
                 FROM dataset_labels l WHERE l.dataset_id = d.id), ''),
       coalesce((SELECT group_concat(c.name, ' ') FROM schema_columns c
                 WHERE c.schema_id = (SELECT v.schema_id FROM versions v WHERE v.dataset_id = d.id
                                      ORDER BY v.version DESC LIMIT 1)), ''),
       coalesce((SELECT group_concat(cd.column_name || ': ' || cd.doc, ' | ')
                 FROM column_docs cd WHERE cd.dataset_id = d.id), ''),
       coalesce((SELECT r.sql_text FROM runs r WHERE r.job = d.zone || '.' || d.name
                 ORDER BY r.id DESC LIMIT 1), ''),
       coalesce((SELECT group_concat(DISTINCT c.name) FROM schema_columns c
                 JOIN versions v ON v.schema_id = c.schema_id AND v.dataset_id = d.id
                 WHERE c.name NOT IN (SELECT c2.name FROM schema_columns c2
                                      WHERE c2.schema_id = (SELECT v2.schema_id FROM versions v2
                                                            WHERE v2.dataset_id = d.id
                                                            ORDER BY v2.version DESC LIMIT 1))), '')
FROM datasets d;
