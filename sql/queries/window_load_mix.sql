-- Rows loaded and rows quarantined per reason for the partitions in $keys.
select
    'loaded' as outcome,
    count(*) as n
from raw_events
where list_contains($keys::varchar[], partition_key)
union all
select
    reason as outcome,
    count(*) as n
from quarantine
where list_contains($keys::varchar[], partition_key)
group by reason
