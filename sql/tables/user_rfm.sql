-- Recency / frequency / monetary aggregates per user as of $as_of over the last
-- $lookback_days days (events before $as_of only): what a traditional baseline learns from.
-- Rolled up from user_session_days: $as_of is a midnight, so filtering on the day is
-- filtering on the event time.
with history as (
    select
        user_id,
        session_id,
        day,
        value,
        purchases,
        first_event_time,
        last_event_time,
        day >= $as_of::date - to_days($lookback_days::integer) as recent
    from user_session_days
    where day < $as_of::date
),

final as (
    select
        user_id,
        date_diff('day', max(last_event_time), $as_of::timestamp) as recency_days,
        date_diff('day', min(first_event_time), $as_of::timestamp) as tenure_days,
        count(distinct day) filter (where recent) as frequency_days,
        count(distinct session_id) filter (where recent) as sessions,
        coalesce(sum(value) filter (where recent), 0) as monetary,
        coalesce(sum(purchases) filter (where recent), 0)::bigint as purchases
    from history
    group by user_id
)

select * from final
