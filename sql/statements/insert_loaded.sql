-- Loaded rows of the staged file, clustered by user and time inside the partition
-- (per-user feature queries then find each user's rows together).
insert into raw_events by name
select
    user_id,
    event_time,
    event_type,
    session_id,
    value,
    device,
    channel,
    extra,
    source_row,
    $partition_key as partition_key,
    $source_file as source_file,
    $ingested_at::timestamp as ingested_at
from staged
where reject_reason is null
order by user_id, event_time
