-- The latest quality verdict of every checked partition, with its loaded rows and, when a
-- person accepted it, who, when and why (the latest acceptance).
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

final as (
    select
        latest_check.partition_key,
        latest_check.passed,
        latest_check.failed_expectations,
        latest_check.checked_at,
        ingest_log.rows_loaded,
        latest_acceptance.accepted_by,
        latest_acceptance.reason,
        latest_acceptance.accepted_at
    from latest_check
    left join ingest_log on latest_check.partition_key = ingest_log.partition_key
    left join latest_acceptance
        on
            latest_check.partition_key = latest_acceptance.partition_key
            and latest_check.checked_at <= latest_acceptance.accepted_at
)

select * from final
order by partition_key
