-- One row per user, session and calendar day (UTC) the session had events on: the grain
-- that user_activity and user_rfm are both rolled up from (one scan of `events` for the two).
-- A session that spans midnight has a row for each day; a null session_id is one row per day.
select
    user_id,
    session_id,
    event_time::date as day,
    count(*) as events,
    sum(value) as value,
    count(*) filter (where event_type = 'purchase') as purchases,
    min(event_time) as first_event_time,
    max(event_time) as last_event_time
from events
group by all
