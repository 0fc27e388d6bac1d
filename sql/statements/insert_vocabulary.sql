insert or ignore into vocabulary
select
    unnest($event_types::varchar[]) as event_type,
    $now::timestamp as first_seen
