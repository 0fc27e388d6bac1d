-- The day of the latest validated event (null when there are none).
select max(event_time)::date as last_day from events
