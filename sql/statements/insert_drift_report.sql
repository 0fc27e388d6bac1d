insert into drift_reports
values (
    $reference_start, $reference_end, $current_start, $current_end, $champion_version,
    $drift_detected, $top_feature, $top_score, $verdict, $report_path, $mlflow_run_id,
    $checked_at::timestamp
)
