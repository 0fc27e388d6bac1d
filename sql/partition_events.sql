-- The loaded rows of one raw_events partition, as the quality suite sees them.
select
    user_id,
    event_time,
    event_type,
    session_id,
    value,
    device,
    channel
from raw_events
where partition_key = $partition_key
