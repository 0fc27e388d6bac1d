-- Validated events: loaded rows of every partition whose latest quality check passed (or was
-- accepted by a person). A partition never checked (the check crashed or never ran) stays
-- out: the table fails closed.
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
    semi join (
        select partition_key from latest_check
        where passed
    ) as checked
        on raw_events.partition_key = checked.partition_key
)

select * from final
