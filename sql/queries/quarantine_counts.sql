-- Quarantined rows of one partition, counted by reason.
select
    reason,
    count(*) as n
from quarantine
where partition_key = $partition_key
group by reason
order by n desc, reason
