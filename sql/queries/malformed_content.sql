-- Lines the CSV reader rejected in the last scan and an order-free hash of their text.
with lines as (
    select distinct
        line,
        csv_line
    from reject_errors
)

select
    count(*) as n,
    coalesce(sum(md5_number_lower(csv_line)), 0)::varchar as content
from lines
