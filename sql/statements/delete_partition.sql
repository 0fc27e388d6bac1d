delete from raw_events
where partition_key = $partition_key
