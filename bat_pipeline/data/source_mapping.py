"""Guessing how a foreign log maps onto the event contract, and the `data:` block that says so.

The inputs are column profiles (name, kind, time format, examples) and event names with
counts; the outputs are roles (contract column -> column in the files), an event-name map onto
the built-in shop's vocabulary, and a `bat.yaml` block that `config.load_config` accepts.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass, field

from pydantic import ValidationError

from bat_pipeline.config import DataConfig
from bat_pipeline.contract import DEFAULT_EVENT_TYPES, REQUIRED_COLUMNS

#: role -> column names (lower case, words joined by `_`) that take it, strongest first
COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "user_id": (
        "user_id", "customer_id", "customer", "user", "userid", "customerid", "client_id",
        "client", "household_key", "household_id", "visitorid", "visitor_id", "visitor",
        "member_id", "account_id", "cust_id", "uid",
    ),
    "event_time": (
        "event_time", "timestamp", "ts", "datetime", "time", "event_timestamp", "date",
        "event_date", "eventtime", "created_at", "occurred_at", "transaction_timestamp",
    ),
    "event_type": (
        "event_type", "event_name", "event", "action", "type", "eventtype", "action_type",
        "activity", "interaction",
    ),
    "session_id": (
        "session_id", "session", "sess", "sessionid", "visit_id", "visit", "basket_id",
    ),
    "value": (
        "value", "amount", "price", "revenue", "sales", "sales_value", "total", "order_value",
    ),
    "device": ("device", "platform", "device_type", "os"),
    "channel": ("channel", "source", "utm_source", "traffic_source", "medium"),
}  # fmt: skip

#: event name (lower case, words joined by `_`) -> the built-in shop's name for it
EVENT_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(("homepage", "home_page", "landing", "start"), "home"),
    **dict.fromkeys(("query", "search_query", "searched"), "search"),
    **dict.fromkeys(
        ("view", "views", "pageview", "page_view", "detail", "product_detail", "productview",
         "view_item", "item_view", "viewed", "product_page"),
        "product_view",
    ),
    **dict.fromkeys(
        ("cart", "basket", "addtocart", "add", "add_to_basket", "addtobasket", "add_cart",
         "cart_add", "added_to_cart"),
        "add_to_cart",
    ),
    **dict.fromkeys(
        ("remove", "removefromcart", "remove_from_basket", "cart_remove", "removed_from_cart"),
        "remove_from_cart",
    ),
    **dict.fromkeys(("begin_checkout", "check_out", "checkout_start", "payment"), "checkout"),
    **dict.fromkeys(
        ("buy", "order", "transaction", "purchased", "sale", "bought", "order_completed"),
        "purchase",
    ),
    **dict.fromkeys(("chat", "support", "contact", "help"), "support_chat"),
}  # fmt: skip

#: the event the default task predicts (task.target_event)
DEFAULT_TARGET = "purchase"
#: names listed in a comment at the most
_LISTED = 20
_PLAIN_YAML = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


@dataclass(frozen=True)
class ColumnProfile:
    """One column of the files, as seen in a sample of their rows."""

    name: str
    kind: str  # integer | number | timestamp | text | empty
    time_format: str | None  # 'iso', 's', 'ms' or a strptime format; None = not a time
    filled: float  # share of sampled rows with a non-empty value
    distinct: int  # distinct values in the sample
    examples: list[str]
    source_type: str  # the file's own type (VARCHAR for every CSV column)
    time_parsed: float = 0.0  # share of the non-empty values that parse as time_format
    time_also: list[str] = field(default_factory=list)  # other formats that parse as many


def norm(name: str) -> str:
    """`Customer ID` -> `customer_id`: lower case, words joined by `_`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def guess_roles(columns: list[ColumnProfile]) -> tuple[dict[str, str], list[str]]:
    """Role (contract column) -> column in the files, and notes on what was not found.

    A column named for a role (COLUMN_SYNONYMS) whose content fits it takes the role; with no
    such time column, the first column whose content is a time does; a required role still
    open takes a column named for it whatever its content."""
    roles: dict[str, str] = {}
    notes: list[str] = []
    free = {c.name: c for c in columns if c.kind != "empty"}

    def named(role: str) -> list[ColumnProfile]:
        synonyms = COLUMN_SYNONYMS[role]
        hits = [c for c in free.values() if norm(c.name) in synonyms]
        return sorted(hits, key=lambda c: synonyms.index(norm(c.name)))

    def take(role: str, column: ColumnProfile) -> None:
        roles[role] = column.name
        del free[column.name]

    for role in COLUMN_SYNONYMS:
        fit = next((c for c in named(role) if _fits(role, c)), None)
        if fit is not None:
            take(role, fit)
    if "event_time" not in roles:
        timed = next((c for c in free.values() if c.time_format), None)
        if timed is not None:
            take("event_time", timed)
            notes.append(f"event_time: column {timed.name!r} was chosen for its content")
    notes += [
        f"{role}: column {hits[0].name!r} is named for it, but its values do not fit "
        f"(e.g. {hits[0].examples}); it is left unmapped"
        for role in COLUMN_SYNONYMS
        if role not in roles and role not in REQUIRED_COLUMNS and (hits := named(role))
    ]
    for role in REQUIRED_COLUMNS:
        if role in roles:
            continue
        hits = named(role)
        if hits:
            take(role, hits[0])
            notes.append(
                f"{role}: column {hits[0].name!r} is named for it, but its values do not "
                f"look like one (e.g. {hits[0].examples})"
            )
        else:
            notes.append(
                f"no column looks like {role}: set data.columns.{role} to the column that "
                f"holds it (columns: {[c.name for c in columns]})"
            )
    return {r: roles[r] for r in COLUMN_SYNONYMS if r in roles}, notes


def _fits(role: str, column: ColumnProfile) -> bool:
    if role == "event_time":
        return column.time_format is not None
    if role == "value":
        return column.kind in ("integer", "number")
    return True


def map_event_names(names: list[str]) -> dict[str, str]:
    """Source name -> canonical name, for the names that are a canonical name written another
    way (`Add To Cart`) or a synonym of one (EVENT_SYNONYMS); other names are kept as they are."""
    mapping = {}
    for name in names:
        key = norm(name)
        target = key if key in DEFAULT_EVENT_TYPES else EVENT_SYNONYMS.get(key)
        if target is not None and target != name:
            mapping[name] = target
    return mapping


def config_columns(roles: dict[str, str]) -> dict[str, str]:
    """data.columns for these roles: the roles whose column is named otherwise and that the
    config accepts a mapping for."""
    return {
        role: name
        for role, name in roles.items()
        if role != name and _accepted(DataConfig, columns={role: name})
    }


def _accepted(model: type[DataConfig], **values: object) -> bool:
    try:
        model(**values)
    except ValidationError:
        return False
    return True


def config_format(time_format: str | None) -> str | None:
    """data.timestamp_format for a detected time format: null for ISO 8601."""
    return None if time_format in (None, "iso") else time_format


def format_label(time_format: str | None) -> str:
    labels = {None: "ISO 8601", "iso": "ISO 8601", "s": "epoch seconds", "ms": "epoch ms"}
    return labels.get(time_format, f"strptime {time_format}")


def target_missing(events: dict[str, int], event_map: dict[str, str]) -> bool:
    """True when events were counted and none of them maps to the default target."""
    return bool(events) and DEFAULT_TARGET not in {event_map.get(n, n) for n in events}


def suggested_yaml(
    roles: dict[str, str],
    timestamp_format: str | None,
    event_map: dict[str, str],
    events: dict[str, int],
) -> str:
    """The `data:` block for bat.yaml, with comments on what it leaves to the user."""
    columns = config_columns(roles)
    lines = ["data:"]
    if columns:
        lines += ["  columns:"] + [f"    {r}: {_scalar(c)}" for r, c in columns.items()]
    else:
        lines.append("  columns: {}  # the files use the contract's column names")
    lines += [
        f"  # {r}: {_scalar(c)}  -- not mappable in data.columns: rename the column to {r}"
        for r, c in roles.items()
        if r != c and r not in columns
    ]
    lines += [
        f"  # {r}: COLUMN  -- no column found; name the column that holds {r}"
        for r in REQUIRED_COLUMNS
        if r not in roles
    ]
    label = format_label(timestamp_format)
    lines.append(f"  timestamp_format: {_scalar(timestamp_format)}  # {label}")
    if event_map:
        lines += ["  event_map:"] + [
            f"    {_scalar(a)}: {_scalar(b)}" for a, b in event_map.items()
        ]
    else:
        lines.append("  event_map: {}")
    kept = [n for n in events if n not in event_map and n not in DEFAULT_EVENT_TYPES]
    if kept:
        more = f" and {len(kept) - _LISTED} more" if len(kept) > _LISTED else ""
        text = "kept as they are (BAT learns the vocabulary from the first load): "
        text += ", ".join(kept[:_LISTED]) + more
        lines += textwrap.wrap(
            text,
            96,
            initial_indent="  # ",
            subsequent_indent="  #   ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    if target_missing(events, event_map):
        example = min(events, key=lambda n: events[n])
        lines += [
            f"# No event maps to {DEFAULT_TARGET!r}, the default prediction target: map the "
            "event to predict",
            f"# to {DEFAULT_TARGET} in event_map above, or name it as the target, e.g.:",
            "# task:",
            f"#   target_event: {_scalar(event_map.get(example, example))}",
        ]
    return "\n".join(lines) + "\n"


def _scalar(value: str | None) -> str:
    """A YAML scalar: plain when it reads back as the same string, else double-quoted."""
    if value is None:
        return "null"
    if _PLAIN_YAML.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)
