-- description: Customers, one row each: names trimmed, countries and tiers normalized, emails masked for analysts and pseudonymized for joins.
-- check: not_null(customer_id)
-- check: unique(customer_id)
-- check: accepted_values(tier, ['basic', 'silver', 'gold'])
-- check: sql: SELECT * FROM result WHERE country IS NOT NULL AND length(country) <> 2
WITH latest AS (
    -- The CRM export repeats some customers: keep one row per customer.
    SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY signup_date DESC, email) AS copy
    FROM bronze.customers
)
SELECT
    customer_id,
    trim(name) AS name,
    mask_email(lower(trim(email))) AS email_masked,
    pseudonymize(lower(trim(email))) AS email_token,
    CASE upper(trim(country))
        WHEN 'GERMANY' THEN 'DE'
        WHEN '' THEN NULL
        ELSE upper(trim(country))
    END AS country,
    signup_date,
    coalesce(lower(trim(tier)), 'basic') AS tier,
    coalesce(marketing_opt_in, false) AS marketing_opt_in
FROM latest
WHERE copy = 1
ORDER BY customer_id
