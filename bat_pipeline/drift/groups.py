"""The three groups of drift signals, and which group each signal belongs to.

- *behaviour*: what customers do — the event mix, transitions within sessions, session shape,
  conversion (purchases per cart...), value, timing, and the champion's prediction drift. A
  model learned these relations; when they move, it needs retraining.
- *population*: who is active — new vs returning customers, device and acquisition channel.
  A model scores each customer by their own history, so a change of who is active does not
  by itself make it wrong; a population that grows older (customers acquired early) moves
  this group in any log.
- *data*: how the data arrives — rows loaded vs quarantined per reason. A new or renamed event
  type lands here: it needs a person to map it, not a retrain.

By default only behaviour triggers a retrain (`drift.trigger_groups`); the others are reported.
"""

from __future__ import annotations

from typing import Literal

BEHAVIOUR = "behaviour"
POPULATION = "population"
DATA = "data"
GroupName = Literal["behaviour", "population", "data"]
#: every group, in report order
GROUPS: tuple[str, ...] = (BEHAVIOUR, POPULATION, DATA)
#: groups whose drift requests a retrain unless configured otherwise
DEFAULT_TRIGGER_GROUPS: tuple[str, ...] = (BEHAVIOUR,)
#: signals about who is active rather than what they do
POPULATION_SIGNALS = frozenset({"device_mix", "channel_mix", "mobile_share", "user_age_mix"})
#: signals about how the data was loaded
DATA_SIGNALS = frozenset({"load_outcome_mix"})
#: one line per group, for reports
GROUP_DESCRIPTIONS = {
    BEHAVIOUR: "what customers do: event mix, transitions, session shape, conversion, value, "
    "the champion's predictions",
    POPULATION: "who is active: new vs returning customers, device and channel mix",
    DATA: "how the data arrives: rows loaded vs quarantined per reason",
}


def group_of(signal: str) -> str:
    """The group of a signal, by its name (behaviour unless listed as population or data)."""
    if signal in POPULATION_SIGNALS:
        return POPULATION
    if signal in DATA_SIGNALS:
        return DATA
    return BEHAVIOUR
