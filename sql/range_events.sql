-- The loaded rows of several raw_events partitions at once ($keys), for one quality run.
select
    user_id,
    event_time,
    event_type,
    session_id,
    value,
    device,
    channel
from raw_events
where list_contains($keys::varchar[], partition_key)
