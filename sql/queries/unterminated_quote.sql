-- The first line of the last CSV scan that opens a quoted value never closed: a rejected
-- unquoted-value line whose text runs over several lines or holds an odd number of quotes
-- (a quote closed too early, as in "ab"c, leaves them even on one line). No row: none.
select
    line,
    error_message
from reject_errors
where
    error_type = 'UNQUOTED VALUE'
    and (
        contains(csv_line, chr(10))
        or (length(csv_line) - length(replace(csv_line, '"', ''))) % 2 = 1
    )
order by line
limit 1
