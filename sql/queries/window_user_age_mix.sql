-- Active user-days in [$window_start, $window_end] (dates inclusive) split into 'new' (first
-- event less than $new_days days before) and 'returning': the tenure mix of who is active.
-- Users first seen in the first $new_days days of the data count as returning: there, 'first
-- seen' only means 'first seen since the data starts'. Counted per user group
-- ((hash(user_id) // 10^6) % $user_groups, as in drift_user_days) to measure sampling noise.
with first_seen as (
    select
        user_id,
        min(event_time)::date as first_day
    from events
    group by user_id
),

data_start as (
    select min(first_day) as first_day from first_seen
),

active_days as (
    select distinct
        user_id,
        event_time::date as active_day
    from events
    where event_time >= $window_start and event_time < $window_end + interval 1 day
),

final as (
    select
        case
            when
                date_diff('day', first_seen.first_day, active_days.active_day) < $new_days
                and date_diff('day', data_start.first_day, first_seen.first_day) >= $new_days
                then 'new'
            else 'returning'
        end as user_age,
        (hash(active_days.user_id) // 1000000) % $user_groups::ubigint as user_group,
        count(*) as n
    from active_days
    inner join first_seen on active_days.user_id = first_seen.user_id
    cross join data_start
    group by 1, 2
)

select * from final
