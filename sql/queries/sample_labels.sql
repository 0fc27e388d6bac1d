-- Point-in-time samples: for each cutoff t in $cutoffs, every user seen before t (dormant
-- users too, as scoring covers them), labelled 1 if they do $target_event ('any' = any event)
-- in [t, t + $horizon_days) (inverted when $churn). Reads only the feature tables.
with cutoffs as (
    select unnest($cutoffs::date[]) as cutoff
),

active as (
    select
        cutoffs.cutoff,
        user_profile.user_id
    from cutoffs
    inner join user_profile on cutoffs.cutoff > user_profile.first_seen
),

hits as (
    select distinct
        cutoffs.cutoff,
        user_event_counts.user_id
    from cutoffs
    inner join user_event_counts
        on
            cutoffs.cutoff <= user_event_counts.bucket_start
            and user_event_counts.bucket_start < cutoffs.cutoff + to_days($horizon_days::integer)
    where $target_event = 'any' or user_event_counts.event_type = $target_event
),

final as (
    select
        active.cutoff,
        active.user_id,
        (hits.user_id is not null) != $churn::boolean as label
    from active
    left join hits
        on active.cutoff = hits.cutoff and active.user_id = hits.user_id
)

select * from final
order by cutoff, user_id
