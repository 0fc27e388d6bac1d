insert into quarantine by name
select
    source_row,
    reject_reason as reason,
    $partition_key as partition_key,
    $source_file as source_file,
    $ingested_at::timestamp as ingested_at,
    to_json(
        {
            user_id: user_id,
            event_time: event_time_text,
            event_type: event_type,
            session_id: session_id,
            value: value_text,
            device: device,
            channel: channel,
            extra: extra
        }
    ) as raw
from staged
where reject_reason is not null
