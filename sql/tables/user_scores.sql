-- The champion's latest scores (registered frame scores_frame): one row per user seen before
-- as-of, for CRM and marketing tools to read.
select
    user_id,
    score,
    model_version,
    as_of,
    dormant,
    current_timestamp as scored_at
from scores_frame
