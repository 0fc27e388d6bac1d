-- Per partition of a split export (table staged_file): rows, loadable rows and the sum of the
-- row hashes (order-free, so the same rows in another order are the same content).
select
    day_key,
    count(*) as total,
    count(*) filter (where reject_reason is null) as loaded,
    sum(row_hash)::varchar as content
from staged_file
group by day_key
order by day_key
