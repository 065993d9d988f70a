-- description: Orders, one row per order with its final status; statuses and currencies normalized, refunds kept as negative amounts.
-- check: not_null(order_id, customer_id, ordered_at)
-- check: unique(order_id)
-- check: accepted_values(status, ['paid', 'shipped', 'pending', 'cancelled', 'refunded'])
-- check: range(amount, -100000, 100000)
-- check: row_count(1, null)
WITH normalized AS (
    SELECT
        order_id,
        customer_id,
        ordered_at,
        lower(trim(status)) AS status,
        upper(currency) AS currency,
        amount,
        coalesce(discount, 0) AS discount,
        coupon,
        CASE upper(trim(shipping_country)) WHEN 'GERMANY' THEN 'DE' WHEN '' THEN NULL
             ELSE upper(trim(shipping_country)) END AS shipping_country,
        coalesce(channel, 'unknown') AS channel
    FROM bronze.orders
),
ranked AS (
    -- The shop re-sends orders when their status changes: keep the furthest status.
    SELECT *, row_number() OVER (
        PARTITION BY order_id
        ORDER BY CASE status WHEN 'refunded' THEN 0 WHEN 'cancelled' THEN 1 WHEN 'shipped' THEN 2
                             WHEN 'paid' THEN 3 ELSE 4 END
    ) AS pick
    FROM normalized
)
SELECT order_id, customer_id, ordered_at, status, currency, amount, discount, coupon,
       shipping_country, channel
FROM ranked
WHERE pick = 1
ORDER BY order_id
