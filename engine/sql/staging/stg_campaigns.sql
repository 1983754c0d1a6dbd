-- stg_campaigns: campaign rows typed, with the reason a row is rejected
-- (null when accepted), whether it lies after as_of (outside the run's
-- window: neither accepted nor rejected) and the month it is for.
-- grain: input campaign row; key: (file_index, source_row).
-- $1 = the run's date (today, UTC, or the configured today).
--
-- A row is for the calendar month of its period: a date or timestamp, or
-- text as YYYY-MM-DD or YYYY-MM. A month that begins after the run's date is
-- in the future (a typo: rejected); one after as_of's month but not in the
-- future is outside the run's window, as a later transaction would be. The
-- channel must be the acquisition_channel of a customer of the run (compared
-- as written, after trimming): a campaign of a channel no customer came
-- through cannot be matched, and is most often a channel named differently
-- in the two exports. Cost and customers_acquired are 0 or more; a campaign
-- that acquired no one still counts its cost. The first row of a campaign,
-- channel and month (in file order) is kept, the others are duplicates.
with params as (
    select * from params
),

channels as (
    select distinct acquisition_channel as channel
    from stg_customers
    where reject_reason is null and not after_as_of and acquisition_channel is not null
),

typed as (
    select
        file_index,
        source_row,
        norm_id(campaign)                                              as campaign,
        nullif(trim(cast(channel as varchar)), '')                     as channel,
        cast(channel as varchar)                                       as channel_found,
        cast(period as varchar)                                        as period_found,
        cast(cost as varchar)                                          as cost_found,
        cast(customers_acquired as varchar)                            as customers_acquired_found,
        date_trunc('month', coalesce(
            to_ts(period)::date,
            try_strptime(trim(cast(period as varchar)), '%Y-%m')::date
        ))::date                                                       as cohort_month,
        try_cast(cost as decimal(18, 4))                               as cost,
        try_cast(cost as double) is null                               as cost_not_number,
        -- A cast to BIGINT would round 1.5; a count must be whole.
        case when try_cast(customers_acquired as double) = trunc(try_cast(customers_acquired as double))
            then try_cast(customers_acquired as bigint) end            as customers_acquired
    from src_campaigns
),

ranked as (
    select
        typed.*,
        channels.channel is not null                                   as known_channel,
        case when campaign is not null and typed.channel is not null and cohort_month is not null then row_number() over (
            partition by campaign, typed.channel, cohort_month order by file_index, source_row
        ) end                                                          as campaign_rank
    from typed
    left join channels on typed.channel = channels.channel
),

-- The first problem of a row: its reason and the column it is in.
checked as (
    select
        ranked.*,
        case
            when channel is null then {'reason': 'missing channel', 'column': 'channel'}
            when period_found is null then {'reason': 'missing period', 'column': 'period'}
            when cohort_month is null then {'reason': 'unparseable period', 'column': 'period'}
            when cohort_month > $1::date then {'reason': 'period in the future', 'column': 'period'}
            -- Outside the run's window: not checked further.
            when cohort_month > params.as_of then null
            when cost_found is null then {'reason': 'missing cost', 'column': 'cost'}
            when cost is null and cost_not_number then {'reason': 'cost not a number', 'column': 'cost'}
            when cost is null then {'reason': 'cost not finite or out of range', 'column': 'cost'}
            when cost < 0 then {'reason': 'negative cost', 'column': 'cost'}
            when customers_acquired_found is null
                then {'reason': 'missing customers_acquired', 'column': 'customers_acquired'}
            when customers_acquired is null
                then {'reason': 'customers_acquired not an integer', 'column': 'customers_acquired'}
            when customers_acquired < 0
                then {'reason': 'negative customers_acquired', 'column': 'customers_acquired'}
            when not known_channel then {'reason': 'unknown channel', 'column': 'channel'}
            when campaign_rank > 1 then {'reason': 'duplicate campaign', 'column': 'campaign'}
        end                                                            as problem,
        cohort_month > params.as_of                                    as past_window
    from ranked, params
),

final as (
    select
        file_index,
        source_row,
        campaign,
        channel,
        cohort_month,
        cost,
        customers_acquired,
        problem.reason                                                 as reject_reason,
        problem.column                                                 as reject_column,
        problem is null and coalesce(past_window, false)               as after_as_of,
        -- The rejected column's value as found, for the rejects.
        case problem.column
            when 'channel' then channel_found
            when 'period' then period_found
            when 'cost' then cost_found
            when 'customers_acquired' then customers_acquired_found
            when 'campaign' then campaign
        end                                                            as value
    from checked
)

select * from final
