"""Small builders shared by test modules."""

import pandas as pd


def add_events(con, rows) -> None:
    """Insert loaded events into raw_events (partition = the event's day), in one statement."""
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
