-- The activity of each sample (view sample_index: sample_idx, user_id, cutoff) in the
-- $lookback_buckets buckets of $bucket_days days before its cutoff, one row per active
-- bucket; position 0 is the oldest bucket, $lookback_buckets - 1 the one just before t.
select
    sample_index.sample_idx,
    (
        $lookback_buckets - date_diff('day', user_activity.bucket_start, sample_index.cutoff)
        // $bucket_days
    )::integer as position,
    user_activity.events,
    user_activity.sessions,
    user_activity.value
from sample_index
inner join user_activity
    on
        sample_index.user_id = user_activity.user_id
        and user_activity.bucket_start
        >= sample_index.cutoff - to_days(($lookback_buckets * $bucket_days)::integer)
        and sample_index.cutoff > user_activity.bucket_start
