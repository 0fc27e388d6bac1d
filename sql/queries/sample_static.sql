-- Static context of each sample (view sample_index): the user's first device and channel,
-- and when they were first seen (where their history, and so the sequence's padding, ends).
select
    sample_index.sample_idx,
    coalesce(user_profile.first_device, 'unknown') as device,
    coalesce(user_profile.first_channel, 'unknown') as channel,
    user_profile.first_seen
from sample_index
left join user_profile on sample_index.user_id = user_profile.user_id
order by sample_index.sample_idx
