-- filter + dedupe (exact duplicate rows) + group-by aggregate
SELECT category, country, date_trunc('month', order_ts) AS month,
       count(*) AS orders, sum(quantity) AS units, sum(total) AS revenue,
       avg(discount) AS avg_discount, count(DISTINCT customer_id) AS customers
FROM (SELECT DISTINCT * FROM orders
      WHERE status <> 'cancelled' AND order_ts >= TIMESTAMP '2024-01-01 00:00:00') AS o
GROUP BY category, country, month
ORDER BY category, country, month
