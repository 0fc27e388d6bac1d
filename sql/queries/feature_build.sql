-- When the feature tables were last built, and their as-of date (no row before a build).
select
    built_at,
    as_of
from feature_build
