-- Distinct event types (after the source's event-name mapping) of the file being staged.
select distinct
    coalesce(
        $map_to[list_position($map_from, nullif(trim(event_type), ''))],
        nullif(trim(event_type), '')
    ) as event_type
from raw_staging
where nullif(trim(event_type), '') is not null
order by event_type
