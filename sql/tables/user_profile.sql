-- One row per user: when they were first seen and their context at that first event
-- (device, channel), which is known at any later cutoff and so safe as a static feature.
-- arg_min_null, not arg_min: arg_min skips a null device and would take it from a later
-- event (possibly after a sample's cutoff); a missing first device stays null ('unknown').
select
    user_id,
    min(event_time) as first_seen,
    max(event_time) as last_seen,
    arg_min_null(device, event_time) as first_device,
    arg_min_null(channel, event_time) as first_channel,
    count(*) as events
from events
group by user_id
