"""The canonical event schema: one row per customer event, the public data contract of BAT."""

from __future__ import annotations

#: canonical column -> (DuckDB type, required)
CANONICAL_COLUMNS: dict[str, tuple[str, bool]] = {
    "user_id": ("VARCHAR", True),
    "event_time": ("TIMESTAMP", True),
    "event_type": ("VARCHAR", True),
    "session_id": ("VARCHAR", False),
    "value": ("DOUBLE", False),
}
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for c, (_, req) in CANONICAL_COLUMNS.items() if req)

#: context columns kept as static features when present (others are kept but unused).
STATIC_COLUMNS: tuple[str, ...] = ("device", "channel")

#: the event types the synthetic shop emits; a real source learns or configures its own.
DEFAULT_EVENT_TYPES: tuple[str, ...] = (
    "home",
    "search",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "support_chat",
)

#: quarantine reasons, one per rule in sql/staged_events.sql plus the reader's own.
QUARANTINE_REASONS: tuple[str, ...] = (
    "malformed_line",
    "missing_user_id",
    "missing_event_type",
    "missing_event_time",
    "unparsable_event_time",
    "unparsable_value",
    "negative_value",
    "non_finite_value",
    "future_event_time",
    "outside_partition_window",
    "unknown_event_type",
    "duplicate",
)
