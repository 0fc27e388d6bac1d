-- Validated events: loaded rows of every partition whose latest quality check did not fail.
with latest_check as (
    select
        partition_key,
        passed
    from quality_results
    qualify row_number() over (partition by partition_key order by checked_at desc) = 1
),

final as (
    select raw_events.*
    from raw_events
    anti join (
        select partition_key from latest_check
        where not passed
    ) as failed
        on raw_events.partition_key = failed.partition_key
)

select * from final
