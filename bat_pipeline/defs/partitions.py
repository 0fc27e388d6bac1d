"""The daily partitions of `raw_events`: one partition per day of events (UTC)."""

import dagster as dg

#: first day a partition can exist; files of earlier days are loaded with the CLI instead
PARTITION_START = "2025-01-01"
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITION_START, end_offset=1)
