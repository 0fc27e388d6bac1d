-- One row per user and time bucket ($bucket_days = 1 or 7; weeks start on Monday):
-- events, sessions, value, purchases (counts per event type: user_event_counts).
-- Sessions are counted by grouping per session first: much cheaper than count(distinct).
with per_session as (
    select
        user_id,
        session_id,
        time_bucket(to_days($bucket_days::integer), event_time::date, date '2000-01-03')
            as bucket_start,
        count(*) as events,
        sum(value) as value,
        count(*) filter (where event_type = 'purchase') as purchases,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time
    from events
    group by all
),

final as (
    select
        user_id,
        bucket_start::date as bucket_start,
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
