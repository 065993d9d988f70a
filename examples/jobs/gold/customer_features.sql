-- description: One row per customer with model features: order counts, net revenue, refund rate, recency and web activity.
-- check: not_null(customer_id)
-- check: unique(customer_id)
-- check: range(orders, 0, null)
-- check: range(refund_rate, 0, 1)
WITH order_stats AS (
    SELECT
        customer_id,
        count(*) AS orders,
        sum(CASE WHEN status IN ('paid', 'shipped') THEN amount ELSE 0 END) AS net_revenue,
        sum(CASE WHEN status = 'refunded' THEN 1 ELSE 0 END) AS refunds,
        max(ordered_at) AS last_order_at
    FROM silver.orders_clean
    GROUP BY customer_id
),
web AS (
    SELECT customer_id, count(*) AS events, sum(CASE WHEN type = 'add_to_cart' THEN 1 ELSE 0 END) AS carts
    FROM silver.events
    WHERE customer_id IS NOT NULL
    GROUP BY customer_id
)
SELECT
    c.customer_id,
    c.tier,
    c.country,
    c.marketing_opt_in,
    coalesce(o.orders, 0) AS orders,
    round(coalesce(o.net_revenue, 0), 2) AS net_revenue,
    CASE WHEN coalesce(o.orders, 0) = 0 THEN 0.0 ELSE o.refunds * 1.0 / o.orders END AS refund_rate,
    date_part('day', TIMESTAMP '2026-03-01 00:00:00' - o.last_order_at) AS days_since_last_order,
    coalesce(w.events, 0) AS web_events,
    coalesce(w.carts, 0) AS add_to_carts,
    CASE WHEN c.tier = 'gold' THEN 1 ELSE 0 END AS is_gold
FROM silver.customers c
LEFT JOIN order_stats o ON o.customer_id = c.customer_id
LEFT JOIN web w ON w.customer_id = c.customer_id
ORDER BY c.customer_id
