-- Money is summed as decimal: exact, so the sum is the same whatever order the rows come in
-- (one process or several workers).
SELECT order_date, country, status, count(*) AS orders,
       sum(CAST(amount AS DECIMAL(18, 2))) AS revenue, avg(quantity) AS avg_quantity
FROM silver.orders_clean
GROUP BY order_date, country, status
