-- The warehouse schema. Every table is created only if missing, so this runs on every writer open.
create table if not exists raw_events (
    user_id varchar not null,
    event_time timestamp not null,
    event_type varchar not null,
    session_id varchar,
    value double,
    device varchar,
    channel varchar,
    extra json,
    partition_key varchar not null,
    source_file varchar not null,
    source_row bigint not null,
    ingested_at timestamp not null
);

create table if not exists quarantine (
    partition_key varchar not null,
    source_file varchar not null,
    source_row bigint,
    reason varchar not null,
    raw json,
    ingested_at timestamp not null
);

create table if not exists ingest_log (
    partition_key varchar primary key,
    source_file varchar not null,
    sha256 varchar not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    ingested_at timestamp not null
);

create table if not exists vocabulary (
    event_type varchar primary key,
    first_seen timestamp not null
);

create table if not exists quality_results (
    partition_key varchar not null,
    passed boolean not null,
    failed_expectations varchar[],
    checked_at timestamp not null
);

create table if not exists reference_profiles (
    model_version varchar primary key,
    run_id varchar not null,
    window_start date not null,
    window_end date not null,
    profile json not null,
    created_at timestamp not null
);

create table if not exists drift_reports (
    reference_start date not null,
    reference_end date not null,
    current_start date not null,
    current_end date not null,
    champion_version varchar,
    drift_detected boolean not null,
    top_feature varchar,
    top_score double,
    verdict varchar,
    report_path varchar,
    mlflow_run_id varchar,
    checked_at timestamp not null
);

create table if not exists quality_acceptances (
    partition_key varchar not null,
    failed_expectations varchar[],
    accepted_by varchar not null,
    reason varchar not null,
    accepted_at timestamp not null
);

create table if not exists feature_build (
    bucket_days integer not null,
    as_of date not null,
    built_at timestamp not null
);
