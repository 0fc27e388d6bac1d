insert into quality_results
values ($partition_key, $passed, $failed_expectations::varchar[], $checked_at::timestamp)
