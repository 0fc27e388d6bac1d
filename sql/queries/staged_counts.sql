-- Rows staged from the file being loaded, and how many of them are loadable.
select
    count(*) as total,
    count(*) filter (where reject_reason is null) as loaded
from staged
