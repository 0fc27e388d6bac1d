-- The settings the feature tables were last built with (one row), so that scoring can refuse
-- tables that do not match the model's feature spec.
create or replace table feature_build as
select
    $bucket_days::integer as bucket_days,
    $as_of::date as as_of,
    now()::timestamp as built_at
