-- drift_totals: the customers in both this run and the previous one (they
-- either stayed or moved in) and those of them whose segment changed.
-- grain: run; key: none (one row).
select
    coalesce(sum(stayed + moved_in), 0)::bigint as compared,
    coalesce(sum(moved_in), 0)::bigint          as changed
from segment_drift
