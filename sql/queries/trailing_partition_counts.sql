-- Loaded row counts of the $days partitions delivered before $partition_key (for the volume
-- check), newest first.
select rows_loaded
from ingest_log
where partition_key < $partition_key
order by partition_key desc
limit $days
