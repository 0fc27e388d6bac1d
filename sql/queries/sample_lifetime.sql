-- The lifetime context of each sample (view sample_index: sample_idx, user_id, cutoff): the
-- user's whole history before the cutoff (nothing at or after it), in days since the cutoff,
-- counts, value and gaps between active days; "targets" are events of $target_event ('any' =
-- every event). A gap that needs two days (or two target days) the user does not have yet is
-- their tenure: at least that long.
with days as (
    select
        user_id,
        event_time::date as day,
        count(*) as events,
        count(*) filter (
            where $target_event = 'any' or event_type = $target_event
        ) as targets,
        coalesce(sum(value), 0) as value,
        min(event_time) as first_time,
        max(event_time) as last_time
    from events
    where user_id in (select sample_index.user_id from sample_index)
    group by all
),

gaps as (
    select
        *,
        date_diff('day', lag(day) over (partition by user_id order by day), day) as gap_days,
        case
            when targets > 0
                then date_diff(
                    'day',
                    lag(day) over (partition by user_id, targets > 0 order by day),
                    day
                )
        end as target_gap_days
    from days
),

history as (
    select
        sample_index.sample_idx,
        sample_index.cutoff,
        gaps.day,
        gaps.events,
        gaps.targets,
        gaps.value,
        gaps.first_time,
        gaps.last_time,
        gaps.gap_days,
        gaps.target_gap_days
    from sample_index
    inner join gaps
        on sample_index.user_id = gaps.user_id and sample_index.cutoff > gaps.day
),

per_sample as (
    select
        sample_idx,
        date_diff('second', max(last_time), any_value(cutoff)::timestamp) / 86400.0
            as recency_days,
        date_diff('second', min(first_time), any_value(cutoff)::timestamp) / 86400.0
            as tenure_days,
        date_diff(
            'second', max(last_time) filter (where targets > 0), any_value(cutoff)::timestamp
        ) / 86400.0 as target_recency_days,
        count(*) as active_days,
        sum(events) as events,
        sum(targets) as targets,
        sum(value) as value,
        arg_max(gap_days, day) as last_gap_days,
        (max(day) - min(day)) / nullif(count(*) - 1, 0) as mean_gap_days,
        arg_max(target_gap_days, day) filter (where targets > 0) as last_target_gap_days,
        (max(day) filter (where targets > 0) - min(day) filter (where targets > 0))
        / nullif(count(*) filter (where targets > 0) - 1, 0) as mean_target_gap_days,
        coalesce(sum(events) filter (where day >= cutoff - 7), 0) as events_7d,
        coalesce(sum(events) filter (where day >= cutoff - 14), 0) as events_14d,
        coalesce(sum(events) filter (where day >= cutoff - 28), 0) as events_28d,
        coalesce(sum(events) filter (where day >= cutoff - 56), 0) as events_56d,
        coalesce(sum(targets) filter (where day >= cutoff - 7), 0) as targets_7d,
        coalesce(sum(targets) filter (where day >= cutoff - 14), 0) as targets_14d,
        coalesce(sum(targets) filter (where day >= cutoff - 28), 0) as targets_28d,
        coalesce(sum(targets) filter (where day >= cutoff - 56), 0) as targets_56d,
        coalesce(sum(value) filter (where day >= cutoff - 28), 0) as value_28d
    from history
    group by sample_idx
),

final as (
    select
        sample_index.sample_idx,
        coalesce(per_sample.recency_days, 0) as recency_days,
        coalesce(per_sample.tenure_days, 0) as tenure_days,
        coalesce(per_sample.target_recency_days, per_sample.tenure_days, 0)
            as target_recency_days,
        coalesce(per_sample.active_days, 0) as active_days,
        coalesce(per_sample.events, 0) as events,
        coalesce(per_sample.targets, 0) as targets,
        coalesce(per_sample.value, 0) as value,
        coalesce(per_sample.last_gap_days, per_sample.tenure_days, 0) as last_gap_days,
        coalesce(per_sample.mean_gap_days, per_sample.tenure_days, 0) as mean_gap_days,
        coalesce(per_sample.last_target_gap_days, per_sample.tenure_days, 0)
            as last_target_gap_days,
        coalesce(per_sample.mean_target_gap_days, per_sample.tenure_days, 0)
            as mean_target_gap_days,
        coalesce(per_sample.events_7d, 0) as events_7d,
        coalesce(per_sample.events_14d, 0) as events_14d,
        coalesce(per_sample.events_28d, 0) as events_28d,
        coalesce(per_sample.events_56d, 0) as events_56d,
        coalesce(per_sample.targets_7d, 0) as targets_7d,
        coalesce(per_sample.targets_14d, 0) as targets_14d,
        coalesce(per_sample.targets_28d, 0) as targets_28d,
        coalesce(per_sample.targets_56d, 0) as targets_56d,
        coalesce(per_sample.value_28d, 0) as value_28d
    from sample_index
    left join per_sample on sample_index.sample_idx = per_sample.sample_idx
)

select * from final
order by sample_idx
