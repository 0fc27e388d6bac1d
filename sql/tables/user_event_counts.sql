-- One row per user, time bucket ($bucket_days = 1 or 7; weeks start on Monday) and event type:
-- how many events of that type the user had in the bucket.
select
    user_id,
    time_bucket(to_days($bucket_days::integer), event_time::date, date '2000-01-03')::date
        as bucket_start,
    event_type,
    count(*) as events
from events
group by all
