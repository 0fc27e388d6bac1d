-- Consecutive event pairs within sessions in [$window_start, $window_end] (dates inclusive),
-- counted by (source, target, gap, session_events): source is the previous event type in the
-- session ($session_start for its first event), target the event's own type, gap the time
-- since the previous event as log2(1 + seconds) rounded to quarters (null for a first event).
-- session_events is the session's length in events on the row of its last event, else null.
-- Users are sampled as in drift_user_days, and counted per user group as there (user_group);
-- events without a session_id form one session per user-day.
with windowed as (
    select
        event_time,
        event_type,
        source_row,
        (hash(user_id) // 1000000) % $user_groups::ubigint as user_group,
        hash(
            user_id, coalesce(session_id, cast(cast(event_time as date) as varchar))
        ) as session_key
    from events
    where
        event_time >= $window_start
        and event_time < $window_end + interval 1 day
        and hash(user_id) % 1000000 < $sample_rate * 1000000
),

ordered as (
    select
        event_type,
        user_group,
        lag(event_type) over session_order as previous_type,
        epoch(event_time) - epoch(lag(event_time) over session_order) as gap_seconds,
        case
            when lead(event_type) over session_order is null
                then row_number() over session_order
        end as session_events
    from windowed
    -- source_row breaks ties between events logged in the same instant, in file order
    window session_order as (partition by session_key order by event_time, source_row)
),

final as (
    select
        coalesce(previous_type, $session_start) as source,
        event_type as target,
        round(log2(1 + gap_seconds) * 4) / 4 as gap,
        session_events,
        user_group,
        count(*) as n
    from ordered
    group by all
)

select * from final
