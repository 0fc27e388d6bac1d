-- The stored reference profile (JSON) of a model version.
select profile from reference_profiles
where model_version = $model_version
