insert into quality_acceptances
values (
    $partition_key,
    $failed_expectations::varchar[],
    $accepted_by,
    $reason,
    $accepted_at::timestamp
)
