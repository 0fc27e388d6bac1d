-- The event-type vocabulary learned or configured so far.
select event_type from vocabulary
order by event_type
