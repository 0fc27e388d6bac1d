"""Asset group names, as shown in the Dagster UI's asset graph."""

INGESTION = "ingestion"
QUALITY = "quality"
FEATURES = "features"
TRAINING = "training"
EVALUATION = "evaluation"
MONITORING = "monitoring"

#: the pool that serialises writes to the DuckDB file (limit 1 in dagster.yaml)
DUCKDB_WRITER = "duckdb_writer"
#: the pool that serialises promotions (limit 1 in dagster.yaml)
PROMOTION = "model_promotion"
