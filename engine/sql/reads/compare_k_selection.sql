-- compare_k_selection: the k_selection of two runs (crmseg compare), from
 -- compared_k_selection (both runs' files with their side): the figures of
-- each k tried, and which was chosen.
-- grain: run x k; key: (side, k).
with published as (
    select * from compared_k_selection
),

final as (
    select
        side,
        cast(k as integer)                  as k,
        cast(inertia as double)             as inertia,
        cast(silhouette as double)          as silhouette,
        cast(calinski_harabasz as double)   as calinski_harabasz,
        cast(davies_bouldin as double)      as davies_bouldin,
        cast(stability as double)           as stability,
        cast(smallest_share as double)      as smallest_share,
        coalesce(eligible, false)           as eligible,
        coalesce(chosen, false)             as chosen
    from published
    order by side, k
)

select * from final
