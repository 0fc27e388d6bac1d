-- The latest quality verdict of every loaded or checked partition, with its loaded rows and,
-- when a person accepted it, who, when and why (the latest acceptance). A loaded partition
-- that was never checked reads as failing 'not_checked' (it is kept out of `events`).
with latest_check as (
    select
        partition_key,
        passed,
        failed_expectations,
        checked_at
    from quality_results
    qualify row_number() over (partition by partition_key order by checked_at desc) = 1
),

latest_acceptance as (
    select
        partition_key,
        accepted_by,
        reason,
        accepted_at
    from quality_acceptances
    qualify row_number() over (partition by partition_key order by accepted_at desc) = 1
),

loaded as (
    select
        partition_key,
        rows_loaded
    from ingest_log
    where rows_loaded > 0
),

final as (
    select
        coalesce(latest_check.partition_key, loaded.partition_key) as partition_key,
        coalesce(latest_check.passed, false) as passed,
        coalesce(latest_check.failed_expectations, ['not_checked']) as failed_expectations,
        latest_check.checked_at,
        loaded.rows_loaded,
        latest_acceptance.accepted_by,
        latest_acceptance.reason,
        latest_acceptance.accepted_at
    from latest_check
    full outer join loaded on latest_check.partition_key = loaded.partition_key
    left join latest_acceptance
        on
            latest_check.partition_key = latest_acceptance.partition_key
            and latest_check.checked_at <= latest_acceptance.accepted_at
)

select * from final
order by partition_key
