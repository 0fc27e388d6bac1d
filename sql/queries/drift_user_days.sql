-- One row per user and active day (UTC) in [$window_start, $window_end] (dates inclusive):
-- the behaviour features that drift profiles histogram. A user-day is the unit so that windows
-- of different lengths compare like with like. Only users whose hash falls under $sample_rate
-- are kept (1.0 keeps everyone). Events without a session_id form one session per user-day;
-- a session that crosses midnight counts on both days. user_group is the user's random group
-- ((hash(user_id) // 10^6) % $user_groups), whose spread measures the sampling noise.
with windowed as (
    select
        event_time,
        event_type,
        value,
        device,
        cast(event_time as date) as day,
        -- 64-bit hashes as keys: grouping on integers is much faster than on strings
        hash(user_id) as user_key,
        hash(
            user_id, coalesce(session_id, cast(cast(event_time as date) as varchar))
        ) as session_key
    from events
    where
        event_time >= $window_start
        and event_time < $window_end + interval 1 day
        and hash(user_id) % 1000000 < $sample_rate * 1000000
),

sessions as (
    select
        session_key,
        day,
        any_value(user_key) as user_key,
        count(*) as events,
        epoch(max(event_time)) - epoch(min(event_time)) as seconds,
        count(*) filter (where event_type = $purchase_event) as purchases,
        count(*) filter (where event_type = $cart_event) as carts,
        sum(value) filter (where event_type = $purchase_event) as purchase_value,
        coalesce(sum(value), 0) as value,
        count(*) filter (where device = $mobile_device) as mobile_events,
        count(device) as device_events,
        min(event_time) as first_event_time
    from windowed
    group by session_key, day
),

user_days as (
    select
        user_key,
        day,
        sum(events) as events,
        count(*) as sessions,
        avg(seconds) / 60 as session_minutes,
        sum(purchases) as purchases,
        count(*) filter (where purchases > 0) as purchase_sessions,
        count(*) filter (where carts > 0) as cart_sessions,
        sum(carts) as carts,
        sum(purchase_value) as purchase_value,
        sum(value) as value,
        sum(mobile_events) as mobile_events,
        sum(device_events) as device_events,
        hour(min(first_event_time)) as first_hour
    from sessions
    group by user_key, day
),

final as (
    select
        cast(events as double) as events,
        cast(sessions as double) as sessions,
        events / sessions as events_per_session,
        session_minutes,
        cast(purchases as double) as purchases,
        purchase_sessions / sessions as purchase_session_share,
        cart_sessions / sessions as cart_session_share,
        purchases / nullif(carts, 0) as purchases_per_cart,
        value,
        purchase_value / nullif(purchases, 0) as value_per_purchase,
        mobile_events / nullif(device_events, 0) as mobile_share,
        cast(first_hour as double) as first_hour,
        (user_key // 1000000) % $user_groups::ubigint as user_group
    from user_days
)

select * from final
