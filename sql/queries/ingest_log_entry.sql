-- The last effective load of a partition (empty if it was never loaded).
select
    partition_key,
    source_file,
    sha256,
    rows_read,
    rows_loaded,
    rows_quarantined,
    ingested_at
from ingest_log
where partition_key = $partition_key
