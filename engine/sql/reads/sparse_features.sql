-- sparse_features: the non-zero sparse feature values, each with its
-- feature matrix column (sparse_columns).
-- grain: customer × sparse column; key: (cust_idx, col).
with sparse as (
    select cust_idx, dimension, value, x from customer_sparse
),

sparse_cols as (
    select dimension, value, col from sparse_columns
),

final as (
    select sparse.cust_idx::bigint as cust_idx, sparse_cols.col, sparse.x::double as x
    from sparse
    join sparse_cols on sparse.dimension = sparse_cols.dimension and sparse.value = sparse_cols.value
)

select * from final
