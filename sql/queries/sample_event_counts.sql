-- Counts per event type of each sample (view sample_index) in the $lookback_buckets buckets
-- before its cutoff: sample_idx, position (0 = oldest), channel (index in $event_types), events.
-- Event types outside $event_types (unknown to the model) are left out.
select
    sample_index.sample_idx,
    (
        $lookback_buckets - date_diff('day', user_event_counts.bucket_start, sample_index.cutoff)
        // $bucket_days
    )::integer as position,
    (list_position($event_types::varchar[], user_event_counts.event_type) - 1)::integer
        as channel,
    user_event_counts.events
from sample_index
inner join user_event_counts
    on
        sample_index.user_id = user_event_counts.user_id
        and user_event_counts.bucket_start
        >= sample_index.cutoff - to_days(($lookback_buckets * $bucket_days)::integer)
        and sample_index.cutoff > user_event_counts.bucket_start
where list_contains($event_types::varchar[], user_event_counts.event_type)
