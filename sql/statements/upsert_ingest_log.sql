insert or replace into ingest_log
values (
    $partition_key, $source_file, $sha256, $rows_read, $rows_loaded, $rows_quarantined,
    $ingested_at::timestamp
)
