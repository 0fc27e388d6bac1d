-- One row per user: when they were first seen and their context at that first event
-- (device, channel), which is known at any later cutoff and so safe as a static feature.
select
    user_id,
    min(event_time) as first_seen,
    max(event_time) as last_seen,
    arg_min(device, event_time) as first_device,
    arg_min(channel, event_time) as first_channel,
    count(*) as events
from events
group by user_id
