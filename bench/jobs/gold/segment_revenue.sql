SELECT c.segment, c.country, c.signup_year, count(*) AS orders,
       sum(CAST(o.amount AS DECIMAL(18, 2))) AS revenue
FROM silver.orders_clean o JOIN bronze.customers c ON c.customer_id = o.customer_id
GROUP BY c.segment, c.country, c.signup_year
