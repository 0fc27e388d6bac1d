-- Days loaded or replaced after $since that lie before $as_of: the data a model or the
-- feature tables were built from has changed since they were built.
select partition_key
from ingest_log
where
    ingested_at > $since
    and try_cast(partition_key as date) < $as_of
order by partition_key
