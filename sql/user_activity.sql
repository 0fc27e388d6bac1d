-- One row per user and time bucket ($bucket_days = 1 or 7; weeks start on Monday):
-- events, sessions, value, purchases (counts per event type: user_event_counts).
with bucketed as (
    select
        user_id,
        event_type,
        session_id,
        value,
        event_time,
        time_bucket(to_days($bucket_days::integer), event_time::date, date '2000-01-03')
            as bucket_start
    from events
),

final as (
    select
        user_id,
        bucket_start::date as bucket_start,
        count(*) as events,
        count(distinct session_id) as sessions,
        coalesce(sum(value), 0) as value,
        count(*) filter (where event_type = 'purchase') as purchases,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time
    from bucketed
    group by user_id, bucket_start
)

select * from final
