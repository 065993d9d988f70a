-- description: Web events with typed timestamps, the landing host, campaign source and device pulled out of the raw payload.
-- check: not_null(event_id, ts, type)
-- check: unique(event_id)
SELECT
    event_id,
    to_timestamp(ts) AS ts,
    type,
    url_host(url) AS host,
    url_param(url, 'utm_source') AS utm_source,
    props['device'] AS device,
    props['duration_ms'] AS duration_ms,
    customer_id,
    lower(query) AS search_query
FROM bronze.events
ORDER BY event_id
