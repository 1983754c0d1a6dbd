-- int_lines: accepted transaction lines (their category filled in from
-- products in staging): not rejected, and not after an explicit as_of.
-- grain: accepted order line; key: (file_index, source_row).
with lines as (
    select * from stg_transactions where reject_reason is null and not after_as_of
),

final as (
    select
        lines.file_index,
        lines.source_row,
        lines.cust_idx,
        lines.order_id,
        lines.ts,
        lines.amount,
        lines.quantity,
        lines.category,
        lines.channel,
        lines.cost
    from lines
)

select * from final
