-- check: unique(order_id)
SELECT order_id, customer_id, ordered_at, order_date, amount, quantity, status, country
FROM (
    SELECT *, row_number() OVER (PARTITION BY order_id ORDER BY ordered_at DESC) AS copy
    FROM bronze.orders
    WHERE status <> 'cancelled'
)
WHERE copy = 1
