-- For each partition in $keys: its loaded rows and the loaded rows of up to $days partitions
-- delivered before it, newest first (empty partitions count as missing days and are left out).
with windowed as (
    select
        partition_key,
        rows_loaded,
        list(rows_loaded order by partition_key desc) filter (where rows_loaded > 0) over (
            order by partition_key
            rows between $days preceding and 1 preceding
        ) as trailing_rows
    from ingest_log
),

final as (
    select
        partition_key,
        rows_loaded as "rows",
        coalesce(trailing_rows, []) as trailing_rows
    from windowed
    where list_contains($keys::varchar[], partition_key)
)

select * from final
order by partition_key
