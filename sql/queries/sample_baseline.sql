-- Recency / frequency / monetary aggregates of each sample (view sample_index) from the
-- user's buckets before its cutoff: the traditional baseline's inputs.
with history as (
    select
        sample_index.sample_idx,
        sample_index.cutoff,
        user_activity.bucket_start,
        user_activity.events,
        user_activity.sessions,
        user_activity.value,
        user_activity.purchases,
        user_activity.first_event_time,
        user_activity.last_event_time
    from sample_index
    inner join user_activity
        on
            sample_index.user_id = user_activity.user_id
            and sample_index.cutoff > user_activity.bucket_start
),

final as (
    select
        sample_idx,
        date_diff('second', max(last_event_time), any_value(cutoff)::timestamp) / 86400.0
            as recency_days,
        count(*) filter (
            where bucket_start >= cutoff - to_days($lookback_days::integer)
        ) as frequency,
        coalesce(sum(value) filter (
            where bucket_start >= cutoff - to_days($lookback_days::integer)
        ), 0) as monetary,
        coalesce(sum(purchases) filter (
            where bucket_start >= cutoff - to_days($lookback_days::integer)
        ), 0) as purchases,
        coalesce(sum(sessions) filter (
            where bucket_start >= cutoff - to_days($lookback_days::integer)
        ), 0) as sessions,
        date_diff('second', min(first_event_time), any_value(cutoff)::timestamp) / 86400.0
            as tenure_days
    from history
    group by sample_idx
)

select * from final
order by sample_idx
