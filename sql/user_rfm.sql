-- Recency / frequency / monetary aggregates per user as of $as_of over the last
-- $lookback_days days (events before $as_of only): what a traditional baseline learns from.
with history as (
    select
        user_id,
        event_time,
        event_type,
        value,
        session_id
    from events
    where event_time < $as_of::timestamp
),

final as (
    select
        user_id,
        date_diff('day', max(event_time), $as_of::timestamp) as recency_days,
        date_diff('day', min(event_time), $as_of::timestamp) as tenure_days,
        count(distinct event_time::date) filter (
            where event_time >= $as_of::timestamp - to_days($lookback_days::integer)
        ) as frequency_days,
        count(distinct session_id) filter (
            where event_time >= $as_of::timestamp - to_days($lookback_days::integer)
        ) as sessions,
        coalesce(sum(value) filter (
            where event_time >= $as_of::timestamp - to_days($lookback_days::integer)
        ), 0) as monetary,
        count(*) filter (
            where event_type = 'purchase'
            and event_time >= $as_of::timestamp - to_days($lookback_days::integer)
        ) as purchases
    from history
    group by user_id
)

select * from final
