-- Partitions in $keys whose latest quality check failed.
with latest as (
    select
        partition_key,
        passed
    from quality_results
    where list_contains($keys::varchar[], partition_key)
    qualify row_number() over (partition by partition_key order by checked_at desc) = 1
)

select partition_key from latest
where not passed
order by partition_key
