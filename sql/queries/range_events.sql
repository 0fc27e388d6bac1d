-- The loaded rows of the raw_events partitions in $keys, as the quality suite sees them, each
-- with its partition's share of rows read that were quarantined as unknown_event_type.
with unknown_shares as (
    select
        ingest_log.partition_key,
        count(quarantine.reason) / greatest(any_value(ingest_log.rows_read), 1)
            as unknown_event_share
    from ingest_log
    left join quarantine
        on
            ingest_log.partition_key = quarantine.partition_key
            and quarantine.reason = 'unknown_event_type'
    where list_contains($keys::varchar[], ingest_log.partition_key)
    group by ingest_log.partition_key
)

select
    raw_events.user_id,
    raw_events.event_time,
    raw_events.event_type,
    raw_events.session_id,
    raw_events.value,
    raw_events.device,
    raw_events.channel,
    raw_events.partition_key,
    coalesce(unknown_shares.unknown_event_share, 0.0) as unknown_event_share
from raw_events
left join unknown_shares on raw_events.partition_key = unknown_shares.partition_key
where list_contains($keys::varchar[], raw_events.partition_key)
