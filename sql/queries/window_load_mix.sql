-- Rows loaded and rows quarantined per reason for the partitions in $keys, per partition (the
-- day-to-day spread of a share measures its sampling noise).
select
    'loaded' as outcome,
    partition_key,
    count(*) as n
from raw_events
where list_contains($keys::varchar[], partition_key)
group by partition_key
union all
select
    reason as outcome,
    partition_key,
    count(*) as n
from quarantine
where list_contains($keys::varchar[], partition_key)
group by reason, partition_key
