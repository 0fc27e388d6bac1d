-- For each partition in $keys: its loaded rows and the median of the $days partitions
-- delivered before it (null when it has no history; empty partitions count as missing days).
with history as (
    select
        partition_key,
        rows_loaded,
        median(nullif(rows_loaded, 0)) over (
            order by partition_key
            rows between $days preceding and 1 preceding
        ) as trailing_median
    from ingest_log
),

final as (
    select
        partition_key,
        rows_loaded as "rows",
        trailing_median
    from history
    where list_contains($keys::varchar[], partition_key)
)

select * from final
order by partition_key
