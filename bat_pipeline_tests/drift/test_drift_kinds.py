"""Drift that means something, on the built-in generator at 300 and 3,000 customers.

Reference = the 28 days before the drift starts (a champion's reference profile); each check
compares one week after it. What each drift kind should flag, and whether that retrains:

- conversion_drop: behaviour (checkout -> purchase, purchases per cart...): the relation the
  model learned changed -> retrain.
- mobile_shift: population (device mix): the same customers doing the same on another device;
  a model scoring each customer's own history stays right -> reported, no retrain by default.
- segment_mix: population (new customers: a third of the active users are new): who is active
  changed, what each customer does did not (behaviour stays within its noise) -> reported; it
  retrains only where the newcomers move behaviour signals or the champion's predictions.
- new_event_type: data (rows quarantined as `unknown_event_type`: the vocabulary does not know
  the type) -> reported, a person maps the type; once the vocabulary accepts it, it is a new
  category of the event mix, i.e. behaviour -> retrain.
Calm weeks flag nothing in any group, and an ageing population alone (customers acquired
early, user_age_mix moving) requests no retrain.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bat_pipeline.data.synthetic import DRIFT_KINDS, NEW_EVENT_TYPE
from bat_pipeline.drift.groups import BEHAVIOUR, DEFAULT_TRIGGER_GROUPS, POPULATION
from bat_pipeline.drift.results import DriftResult
from bat_pipeline.drift.windows import Window, build_window_profile, drift_check
from bat_pipeline.policy.retrain import DriftObservation, next_tick
from bat_pipeline_tests.drift.shops import DRIFT_DAY, EXPECTED, day, generated_shop

SIZES = (300, 3000)
REFERENCE = Window(day(DRIFT_DAY - 28), day(DRIFT_DAY - 1))
WEEKS = (
    Window(day(DRIFT_DAY), day(DRIFT_DAY + 6)),
    Window(day(DRIFT_DAY + 7), day(DRIFT_DAY + 13)),
)


@pytest.fixture(scope="module")
def shop_files(tmp_path_factory):
    return tmp_path_factory.mktemp("shops")


@pytest.fixture(scope="module")
def shops(shop_files):
    """(users, kind, vocabulary=...) -> the shop's warehouse, loaded once per module."""
    cache = {}

    def shop(users, kind, **kw):
        key = (users, kind, *kw.items())
        if key not in cache:
            cache[key] = generated_shop(shop_files, users, kind, **kw)
        return cache[key]

    return shop


def check(con, current: Window, triggers=DEFAULT_TRIGGER_GROUPS, floor=0.2) -> DriftResult:
    reference = build_window_profile(con, REFERENCE)
    result, _ = drift_check(con, reference, current, floor, triggers)
    return result


def moved_groups(result: DriftResult) -> set[str]:
    return {f.group for f in result.drifted}


@pytest.mark.parametrize("users", SIZES)
def test_calm_weeks_flag_nothing(shops, users):
    con = shops(users, None)
    for week in WEEKS:
        result = check(con, week)
        assert not result.signals_moved, result.verdict
        assert result.verdict.startswith("No drift in behaviour")


@pytest.mark.parametrize("users", SIZES)
def test_thresholds_follow_the_noise_so_a_low_floor_stays_calm_and_names_more(shops, users):
    """A PSI floor of 0.05, a quarter of the default: calm weeks still flag nothing, because
    where a small shop's noise reaches past the floor the signal's threshold rises with it; in
    the drifted shop, conversion signals that moved less than 0.2 are named too."""
    calm = [check(shops(users, None), week, floor=0.05) for week in WEEKS]
    assert not any(result.signals_moved for result in calm), [r.verdict for r in calm]
    held_by_noise = [f for r in calm for f in r.features if f.score > 0.05]
    assert all(f.threshold == f.extra["noise_limit"] > 0.05 for f in held_by_noise)
    if users == 300:
        assert held_by_noise  # a fixed threshold of 0.05 would have flagged these
    drop = check(shops(users, "conversion_drop"), WEEKS[0], floor=0.05)
    assert {"purchase_session_share", "purchases_per_cart"} <= {f.name for f in drop.drifted}


@pytest.mark.parametrize("users", SIZES)
@pytest.mark.parametrize("kind", DRIFT_KINDS)
def test_each_drift_kind_is_flagged_in_its_group_in_its_first_week(shops, users, kind):
    group, signals, retrains = EXPECTED[kind]
    result = check(shops(users, kind), WEEKS[0])
    assert moved_groups(result) == {group}, result.verdict
    named = signals & {f.name for f in result.drifted}
    assert named, result.verdict
    assert all(name in result.verdict for name in named)
    assert result.drift_detected is retrains, result.verdict
    assert result.to_dict()["groups"][group]["drifted"] is True
    if not retrains:
        assert "reported only" in result.verdict
        # switched on as a trigger in config, the same movement requests a retrain
        assert check(shops(users, kind), WEEKS[0], (BEHAVIOUR, group)).drift_detected


@pytest.mark.parametrize("users", SIZES)
def test_a_new_event_type_the_vocabulary_accepts_is_behaviour_drift(shops, users):
    result = check(shops(users, "new_event_type", vocabulary=None), WEEKS[0])
    mix = next(f for f in result.features if f.name == "event_type_mix")
    assert mix.drifted and mix.group == BEHAVIOUR and mix.extra["unseen"] == [NEW_EVENT_TYPE]
    assert result.drift_detected, result.verdict


@pytest.mark.parametrize("users", SIZES)
def test_an_ageing_population_alone_requests_no_retrain(shop_files, users):
    """Customers acquired early: the newest joined 14 days before the reference ends, so the
    current weeks hold no new customer while behaviour is what it was."""
    con = generated_shop(shop_files, users, None)
    con.execute(
        "delete from raw_events where user_id in (select user_id from raw_events"
        " group by user_id having min(event_time) >= $joined)",
        {"joined": day(DRIFT_DAY - 14)},
    )
    result = check(con, WEEKS[1])
    assert moved_groups(result) == {POPULATION}, result.verdict
    assert [f.name for f in result.drifted] == ["user_age_mix"]
    now = datetime(2026, 4, 1, tzinfo=UTC)
    decision, state = next_tick({}, DriftObservation(WEEKS[1], result), timedelta(hours=24), now)
    assert not decision.request
    assert "user_age_mix" in decision.reason and "reported only" in decision.reason
    assert state["last_drift_detected"] is False and state["last_groups_moved"] == [POPULATION]
    # a shop that wants population drift to retrain says so in config
    opted_in = check(con, WEEKS[1], (BEHAVIOUR, POPULATION))
    decision, _ = next_tick({}, DriftObservation(WEEKS[1], opted_in), timedelta(hours=24), now)
    assert decision.request


def test_a_log_whose_partitions_are_not_days_compares_without_load_outcomes(shop_files):
    """One export file loaded as one partition named after the file: the windows' days have
    no load records, which is said in a note instead of crashing the drift check."""
    con = generated_shop(shop_files, 300, None)
    con.execute("update raw_events set partition_key = 'export.csv'")
    result = check(con, WEEKS[0])
    assert not result.signals_moved, result.verdict
    assert "load_outcome_mix" not in {f.name for f in result.features}
    assert result.notes == [
        "load_outcome_mix: nothing counted in the reference window: not compared"
    ]
    assert result.to_dict()["notes"] == result.notes
