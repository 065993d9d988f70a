-- enrich delivered orders with customer attributes
SELECT o.order_id, o.order_ts, o.category, o.quantity, o.total,
       c.segment, c.country AS customer_country, c.signup_date
FROM orders AS o JOIN customers AS c ON o.customer_id = c.customer_id
WHERE o.status = 'delivered'
