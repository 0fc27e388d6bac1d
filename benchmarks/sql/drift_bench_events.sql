-- Synthetic events for benchmarks, in the warehouse `events` schema: $events rows, sessions of
-- 8 events a minute or so apart, each session on a random day of $days from $first_day for one
-- of $users users, random device and channel per session. Deterministic for a given $seed.
with numbered as (
    select
        range as event_no,
        range // 8 as session_no,
        range % 8 as position
    from range($events)
),

final as (
    select
        'u' || (hash(session_no, $seed) % $users) as user_id,
        cast($first_day as timestamp)
        + to_days(cast(hash(session_no, $seed + 1) % $days as integer))
        + to_seconds(
            cast(
                hash(session_no, $seed + 2) % 80000 + position * 60 + hash(event_no) % 60
                as bigint
            )
        ) as event_time,
        case
            when position = 0 then 'home'
            else [
                'search', 'product_view', 'product_view', 'add_to_cart',
                'remove_from_cart', 'checkout', 'purchase', 'support_chat'
            ][cast(1 + hash(event_no, $seed + 3) % 8 as bigint)]
        end as event_type,
        's' || session_no as session_id,
        case
            when position > 0 and hash(event_no, $seed + 3) % 8 = 6
                then (hash(event_no, $seed + 4) % 10000) / 100.0
            else 0.0
        end as value,
        ['mobile', 'desktop', 'tablet'][cast(1 + hash(session_no, $seed + 5) % 3 as bigint)]
            as device,
        ['organic', 'ads', 'email', 'social'][cast(1 + hash(session_no, $seed + 6) % 4 as bigint)]
            as channel,
        null::json as extra,
        'bench' as partition_key,
        'bench.csv' as source_file,
        event_no as source_row,
        cast($first_day as timestamp) as ingested_at
    from numbered
)

select * from final
order by event_time
