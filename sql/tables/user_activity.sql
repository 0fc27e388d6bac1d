-- One row per user and time bucket ($bucket_days = 1 or 7; weeks start on Monday):
-- events, sessions, value, purchases (counts per event type: user_event_counts).
-- Rolled up from user_session_days: per session and bucket first, so that a session spanning
-- midnight inside one bucket counts once (much cheaper than count(distinct)).
with per_session as (
    select
        user_id,
        session_id,
        time_bucket(to_days($bucket_days::integer), day, date '2000-01-03')::date
            as bucket_start,
        sum(events) as events,
        sum(value) as value,
        sum(purchases) as purchases,
        min(first_event_time) as first_event_time,
        max(last_event_time) as last_event_time
    from user_session_days
    group by all
),

final as (
    select
        user_id,
        bucket_start,
        sum(events)::bigint as events,
        count(session_id) as sessions,
        coalesce(sum(value), 0) as value,
        sum(purchases)::bigint as purchases,
        min(first_event_time) as first_event_time,
        max(last_event_time) as last_event_time
    from per_session
    group by user_id, bucket_start
)

select * from final
