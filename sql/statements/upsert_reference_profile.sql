insert or replace into reference_profiles
values ($model_version, $run_id, $window_start, $window_end, $profile, $created_at::timestamp)
