-- Event counts in [$window_start, $window_end] (dates inclusive) per category of the
-- categorical columns event_type, device and channel: one row per (dimension, category),
-- category null where the column was empty, and per user group ((hash(user_id) // 10^6) %
-- $user_groups: random groups of users, whose spread measures the mix's sampling noise).
-- Exact (never sampled); one pass over the window.
with windowed as (
    select
        event_type,
        device,
        channel,
        (hash(user_id) // 1000000) % $user_groups::ubigint as user_group
    from events
    where
        event_time >= $window_start
        and event_time < $window_end + interval 1 day
),

counted as (
    select
        -- bit set = column not in this grouping set; tells the sets apart when a value is null
        grouping(event_type, device, channel) as grouping_id,
        coalesce(event_type, device, channel) as category,
        user_group,
        count(*) as n
    from windowed
    group by grouping sets ((event_type, user_group), (device, user_group), (channel, user_group))
),

final as (
    select
        category,
        n,
        case grouping_id
            when 3 then 'event_type'
            when 5 then 'device'
            when 6 then 'channel'
        end as dimension,
        user_group
    from counted
)

select * from final
