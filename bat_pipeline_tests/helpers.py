"""Small builders shared by test modules."""

import pandas as pd

#: gates for a tiny model on a few hundred synthetic customers: they only need to let a
#: first champion through (the gates themselves are tested in policy/)
SMALL_MODEL_GATES = {
    "min_accuracy": 0.5,
    "max_loss_gap": 0.5,
    "max_regression": 0.05,
    "must_beat_baseline": False,
    "must_beat_majority": False,
    "min_balanced_accuracy": 0.0,
    "min_auc": 0.0,
}


def add_events(con, rows) -> None:
    """Insert loaded events into raw_events (partition = the event's day), in one statement,
    with a passing quality verdict for each new partition."""
    frame = pd.DataFrame(
        rows,
        columns=["user_id", "event_time", "event_type", "session_id", "value", "device", "channel"],
    ).astype({"value": "float64"})
    frame["partition_key"] = frame["event_time"].dt.strftime("%Y-%m-%d")
    frame["source_row"] = range(len(frame))
    con.register("new_events", frame)
    con.execute(
        "insert into raw_events by name select *, 'fixture' as source_file, "
        "event_time as ingested_at from new_events"
    )
    con.unregister("new_events")
    mark_checked(con)


def mark_checked(con) -> None:
    """Give every loaded partition without a quality verdict a passing one (dated 2000-01-01,
    before any verdict a test records), as the quality suite would for clean data: `events`
    takes only checked partitions."""
    con.execute(
        "insert into quality_results select distinct partition_key, true, [], "
        "timestamp '2000-01-01' from raw_events where partition_key not in "
        "(select partition_key from quality_results)"
    )
