-- The newest day of data: the later of the last validated event and the last delivered daily
-- partition (a delivered day that failed its checks is not in events, but it is the newest
-- data, and a drift window that ends before it would hide the failure).
select
    greatest(
        (select max(event_time)::date from events),
        (select max(try_cast(partition_key as date)) from ingest_log)
    ) as last_day
