-- Staged rows later than now + the allowed skew, with the first of them: its source row and
-- event time as written.
select
    count(*) as n,
    arg_min(source_row, source_row) as first_row,
    arg_min(event_time_text, source_row) as first_text
from staged
where reject_reason = 'future_event_time'
