-- The staged rows of a multi-day export (table staged), each with the partition it belongs to:
-- the UTC day of its event time, or $undated_key for rows without a usable time (missing,
-- unparsable or in the future), and a hash of the row as cast, to tell changed days apart.
select
    *,
    case
        when event_time is null or reject_reason = 'future_event_time' then $undated_key
        else strftime(event_time, '%Y-%m-%d')
    end as day_key,
    md5_number_lower(
        to_json(
            {
                user_id: user_id,
                event_time: event_time,
                event_type: event_type,
                session_id: session_id,
                value: value,
                device: device,
                channel: channel,
                extra: extra,
                event_time_text: event_time_text,
                value_text: value_text,
                reject_reason: reject_reason
            }
        )::varchar
    ) as row_hash
from staged
