insert into quarantine by name
select
    line as source_row,
    'malformed_line' as reason,
    $partition_key as partition_key,
    $source_file as source_file,
    $ingested_at::timestamp as ingested_at,
    to_json({ line: any_value(csv_line), errors: string_agg(error_message, '; ') }) as raw
from reject_errors
group by line
