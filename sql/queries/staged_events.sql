-- Rows of one source file (table raw_staging, all text, canonical names) cast to the schema,
-- each with the first reason it cannot be loaded (null = loadable). Values are bound:
-- $ts_format, $now, $window_start, $window_end, $vocabulary, $map_from, $map_to.
with parsed as (
    select
        source_row,
        extra,
        device,
        channel,
        nullif(trim(user_id), '') as user_id,
        nullif(trim(session_id), '') as session_id,
        nullif(trim(event_time), '') as event_time_text,
        nullif(trim(value), '') as value_text,
        coalesce(
            $map_to[list_position($map_from, nullif(trim(event_type), ''))],
            nullif(trim(event_type), '')
        ) as event_type,
        case
            when $ts_format::varchar is null
                then try_cast(try_cast(trim(event_time) as timestamptz) as timestamp)
            when $ts_format = 's'
                then try_cast(try(to_timestamp(try_cast(trim(event_time) as double))) as timestamp)
            when $ts_format = 'ms'
                then try_cast(
                    try(to_timestamp(try_cast(trim(event_time) as double) / 1000.0)) as timestamp
                )
            else try_cast(try_strptime(trim(event_time), $ts_format)::timestamptz as timestamp)
        end as event_time,
        try_cast(nullif(trim(value), '') as double) as value
    from raw_staging
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id, event_time, event_type, session_id, value, device, channel, extra
            order by source_row
        ) as copy_number
    from parsed
),

final as (
    select
        source_row,
        user_id,
        event_time,
        event_type,
        session_id,
        value,
        device,
        channel,
        extra,
        event_time_text,
        value_text,
        case
            when user_id is null then 'missing_user_id'
            when event_type is null then 'missing_event_type'
            when event_time_text is null then 'missing_event_time'
            when event_time is null then 'unparsable_event_time'
            when value_text is not null and value is null then 'unparsable_value'
            when value is not null and not isfinite(value) then 'non_finite_value'
            when value < 0 then 'negative_value'
            when event_time > $now::timestamp then 'future_event_time'
            when
                $window_start::timestamp is not null
                and (event_time < $window_start::timestamp or event_time >= $window_end::timestamp)
                then 'outside_partition_window'
            when not list_contains($vocabulary::varchar[], event_type) then 'unknown_event_type'
            when copy_number > 1 then 'duplicate'
        end as reject_reason
    from ranked
)

select * from final
