-- Staged rows whose event time or value does not parse (a changed format rather than bad
-- rows), with the first of them: its source row, reason and text.
select
    count(*) as n,
    arg_min(source_row, source_row) as first_row,
    arg_min(reject_reason, source_row) as first_reason,
    arg_min(
        case when reject_reason = 'unparsable_value' then value_text else event_time_text end,
        source_row
    ) as first_text
from staged
where reject_reason in ('unparsable_event_time', 'unparsable_value')
