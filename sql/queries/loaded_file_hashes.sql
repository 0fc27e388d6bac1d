-- The content hash of the last effective load of every partition.
select
    partition_key,
    sha256
from ingest_log
