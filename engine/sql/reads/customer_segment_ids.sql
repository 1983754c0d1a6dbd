-- customer_segment_ids: every customer's segment, by cust_idx, read by Go
-- for the segment forecasts.
-- grain: customer; key: cust_idx.
select cust_idx::bigint as cust_idx, segment_id::integer as segment_id from customer_segment_map order by cust_idx
