-- first_order_date: the date of the first accepted order, where the data
-- starts for the metric windows (reads/window_coverage).
-- grain: run; key: none (one row).
select min(first_order_date) from customer_features
