-- Rows, users and time range of the validated events table.
select
    count(*) as n_rows,
    count(distinct user_id) as users,
    min(event_time) as first_event,
    max(event_time) as last_event
from events
