-- The sources a version holds, as spans of versions instead of one row per version and source:
-- an append made every later version repeat every earlier source, so a dataset fed in small
-- batches grew as the square of its versions (50 million rows at 10,000 batches). A span is
-- opened by the version that ingested the source and closed by the first version without it;
-- version V holds the spans with added_in <= V < removed_in (or still open).
CREATE TABLE source_spans (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    source_id  INTEGER NOT NULL REFERENCES sources (id),
    added_in   INTEGER NOT NULL,            -- the version that ingested it
    removed_in INTEGER,                     -- the first version without it; NULL: still held
    PRIMARY KEY (dataset_id, source_id, added_in)
);
CREATE INDEX source_spans_by_source ON source_spans (source_id);

-- Runs of consecutive versions holding a source become spans. A run starts where the source was
-- added (or where it reappeared), so `added` is kept: a source re-ingested with --force starts
-- a new span at its version.
WITH held AS (
    SELECT v.dataset_id, vs.source_id, v.version, vs.added
    FROM version_sources vs JOIN versions v ON v.id = vs.version_id
),
starts AS (
    SELECT dataset_id, source_id, version, added,
           CASE WHEN added = 1 OR NOT EXISTS (
                    SELECT 1 FROM held p
                    WHERE p.dataset_id = h.dataset_id AND p.source_id = h.source_id
                      AND p.version = h.version - 1)
                THEN 1 ELSE 0 END AS starts
    FROM held h
),
numbered AS (
    SELECT dataset_id, source_id, version,
           sum(starts) OVER (PARTITION BY dataset_id, source_id ORDER BY version) AS span
    FROM starts
)
INSERT INTO source_spans (dataset_id, source_id, added_in, removed_in)
SELECT dataset_id, source_id, min(version), max(version) + 1
FROM numbered GROUP BY dataset_id, source_id, span;

-- A span that reaches the dataset's latest version is still open.
UPDATE source_spans SET removed_in = NULL
WHERE removed_in = (SELECT max(version) + 1 FROM versions v
                    WHERE v.dataset_id = source_spans.dataset_id);

DROP TABLE version_sources;
