-- The sample index of the last training run (registered frame samples_frame): one row per
-- (cutoff, user) with its label and split (0 train, 1 validation, 2 test).
select
    cutoff,
    user_id,
    label,
    split
from samples_frame
