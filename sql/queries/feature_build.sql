-- The settings of the last feature build (no row before any build recorded them).
select
    bucket_days,
    as_of,
    built_at
from feature_build
