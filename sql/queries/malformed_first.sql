-- The first rejected line of the last CSV scan, for error messages.
select
    line,
    error_message
from reject_errors
order by line limit 1
