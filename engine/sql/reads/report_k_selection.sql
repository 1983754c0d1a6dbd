-- report_k_selection: the figures of each k tried for a run's report, from
-- run_k_selection, the run's published k_selection.
-- grain: k; key: k.
with tried as (
    select * from run_k_selection
),

final as (
    select
        cast(k as integer)              as k,
        inertia,
        silhouette,
        calinski_harabasz,
        davies_bouldin,
        stability,
        smallest_share,
        coalesce(eligible, false)       as eligible,
        coalesce(chosen, false)         as chosen
    from tried
    order by k
)

select * from final
