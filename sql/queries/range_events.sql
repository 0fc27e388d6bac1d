-- The loaded rows of the raw_events partitions in $keys, as the quality suite sees them.
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
