"""Synthetic event logs of an online shop, with optional injected drift.

The data is a simulation of the customers of a web shop, one file per calendar day
(``events_YYYY-MM-DD.csv`` or ``.parquet``) in the canonical event schema (`bat_pipeline.contract`) plus
two context columns, in this order:

``user_id, event_time, event_type, session_id, value, device, channel``

- ``user_id``: ``u000001``, ``u000002``, ...
- ``event_time``: UTC, whole seconds; ISO 8601 text such as ``2026-01-03T14:05:11Z`` in CSV,
  ``timestamp[us, tz=UTC]`` in Parquet. The rows of a file are sorted by time.
- ``event_type``: one of `DEFAULT_EVENT_TYPES` (plus ``live_stream_view`` under the
  ``new_event_type`` drift).
- ``session_id``: ``<user_id>-<YYYYMMDD>-<n>``, the n-th session of that user that day. A
  session's events are in a plausible order (entry page ``home`` or ``search`` -> searches and
  product views -> cart adds -> maybe one removal -> ``checkout`` -> ``purchase``; a
  ``support_chat`` comes last) and a user's sessions of a day never overlap.
- ``value``: the amount paid (> 0, cents) on ``purchase`` rows and exactly ``0`` on every other
  row, so the column is never empty.
- ``device`` (mobile / desktop / tablet) and ``channel`` (organic / ads / email / social), per
  session: usually the user's own device and acquisition channel.

How the customers behave (what a model can learn):

- Four segments with different activity, conversion and basket size: loyal buyers (buy every
  two to three weeks), browsers (visit and look a lot, rarely buy), bargain hunters
  (search-heavy, remove items, fill carts during the week and buy cheap at weekends) and
  churners (ordinary for a few weeks, then fading away).
- Each user has a latent state that evolves day by day. *Need* grows with the days since the
  last purchase relative to the user's own purchase cycle and starts a *shopping episode*;
  within an episode *intent* ramps up over a few days, raising the visit rate, the number of
  sessions and product views and the chance of cart adds and checkouts, and the readiness to
  buy grows with the episode's age. A purchase ends the episode (intent resets, need restarts);
  an episode may also be abandoned. Cart adds without a purchase in the last days, a rising
  browse streak and the rhythm of past purchases therefore predict a purchase in the next two
  weeks better than recency/frequency/monetary totals do. Once a user's churn starts, their
  *engagement* (visits and new episodes) decays by 8 % a day until they never come back, so a
  declining visit rate predicts no purchase. A slow random walk adds persistent ups and downs.
- Weekly seasonality (weekends about 10 % busier), a daily rhythm (evenings busiest), about half
  the users known before the first day (a 45-day warm-up that is not written gives them a
  realistic state on day one) and the others joining uniformly over the period, each with a
  visit on their join day. About 25-35 % of the users seen before a cutoff buy within the next
  14 days with the default settings.

Drift (`DRIFT_KINDS`), from ``drift_start`` on; every file before ``drift_start`` is
byte-identical to the same call without drift:

- ``conversion_drop``: half as many checkouts, a checkout converts 4x less often and frustrated
  shoppers give up sooner: purchases fall to roughly a sixth;
- ``mobile_shift``: 60 % of the sessions are forced to mobile (mobile share ~50 % -> ~80 %);
- ``new_event_type``: ``live_stream_view`` events appear in about 35 % of the sessions;
- ``segment_mix``: a wave of new users (as many as `users`), 65 % bargain hunters and 35 %
  browsers, mostly from ads and social and on mobile, arriving at a steady rate over the next
  five weeks: a third of the first week's active users are new, while no single day's volume
  jumps (the total grows gradually).

Everything is vectorised per day across all users (no per-event Python loop) and written day by
day, so memory is bounded by one day's events.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bat_pipeline.contract import DEFAULT_EVENT_TYPES

DRIFT_KINDS = ("conversion_drop", "mobile_shift", "new_event_type", "segment_mix")
#: the extra event type of the ``new_event_type`` drift.
NEW_EVENT_TYPE = "live_stream_view"
#: columns of every file, in this order.
COLUMNS = ("user_id", "event_time", "event_type", "session_id", "value", "device", "channel")
SEGMENTS = ("loyal", "browser", "bargain", "churner")
DEVICES = ("mobile", "desktop", "tablet")
CHANNELS = ("organic", "ads", "email", "social")
FORMATS = ("csv", "parquet")
#: days simulated (not written) before the first day so that day one starts from a real state.
BURN_IN_DAYS = 45

_EVENT_TYPES = (*DEFAULT_EVENT_TYPES, NEW_EVENT_TYPE)
_CODE = {name: code for code, name in enumerate(_EVENT_TYPES)}
_HOME, _SEARCH, _VIEW = _CODE["home"], _CODE["search"], _CODE["product_view"]
_CART, _REMOVE, _CHECKOUT = _CODE["add_to_cart"], _CODE["remove_from_cart"], _CODE["checkout"]
_PURCHASE, _SUPPORT, _LIVE = _CODE["purchase"], _CODE["support_chat"], _CODE[NEW_EVENT_TYPE]
#: mean seconds since the previous event of the session, per event type.
_GAP_MEAN_S = {
    "home": 0, "search": 20, "product_view": 40, "add_to_cart": 25, "remove_from_cart": 15,
    "checkout": 35, "purchase": 60, "support_chat": 90, NEW_EVENT_TYPE: 120,
}  # fmt: skip
#: relative session starts per hour of the day (UTC): quiet nights, busy lunch and evenings.
_HOURLY = (
    0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.6, 1.1, 1.5, 1.7, 1.8, 1.9,
    2.1, 2.0, 1.8, 1.8, 1.9, 2.1, 2.5, 2.9, 3.1, 2.8, 2.0, 1.2,
)  # fmt: skip
#: relative visit rate Monday..Sunday: weekends busier.
_WEEKDAY = (0.97, 0.96, 0.97, 0.98, 1.0, 1.1, 1.08)
_PEAK_VISIT = 0.8  # daily visit probability at full intent
_GONE_BELOW = 0.03  # engagement under which a churning user never comes back
_CHURN_DECAY = 0.92  # daily engagement factor once churn started (half-life ~8 days)
_WAVE_SIZE = 1.0  # segment_mix: new users per base user
_WAVE_DAYS = 20  # segment_mix: days over which they arrive (seen in week one, no volume jump)
_WAVE_BARGAIN = 0.65  # segment_mix: share of bargain hunters (the rest are browsers)
_WAVE_CHANNELS = (0.05, 0.50, 0.05, 0.40)  # organic, ads, email, social
_WAVE_DEVICES = (0.75, 0.15, 0.10)  # mobile, desktop, tablet


@dataclass(frozen=True)
class GenerateSummary:
    """What `generate` wrote: the folder, the day files (oldest first) and their totals.

    `users` counts the distinct users with at least one event written.
    """

    out: Path
    files: list[Path]
    events: int
    users: int
    days: int
    start: date
    drift: str | None
    drift_start: date | None


@dataclass(frozen=True)
class _Segment:
    """Behaviour parameters of one customer segment."""

    share: float  # share of the base population
    idle_visit: float  # daily visit probability outside a shopping episode
    cycle_days: float  # typical days from a purchase until the need for the next one
    base_hazard: float  # daily chance an episode starts regardless of need
    need_hazard: float  # extra daily chance once the days since a purchase pass the cycle
    ramp_days: float  # mean days for intent to reach its peak within an episode
    abandon: float  # daily chance an episode ends without a purchase
    convert: float  # chance a checkout becomes a purchase (at full readiness)
    weekend_convert: float  # conversion multiplier on Saturdays and Sundays
    churn_days: float  # mean days from joining (+7) until churn starts
    value_median: float  # median basket value
    value_sigma: float  # log-sd of basket values
    views: float  # product views per session (scale)
    searches: float  # extra searches per session (scale)
    home_entry: float  # chance a session starts on the home page (else with a search)
    remove: float  # chance a session with cart adds also removes an item
    device_p: tuple[float, float, float]  # mobile, desktop, tablet
    channel_p: tuple[float, float, float, float]  # organic, ads, email, social


_LOYAL, _BROWSER, _BARGAIN, _CHURNER = range(len(SEGMENTS))
_SEGMENT_PARAMS = (
    _Segment(  # loyal buyers: a regular purchase rhythm, high conversion
        share=0.22, idle_visit=0.12, cycle_days=18, base_hazard=0.003, need_hazard=0.45,
        ramp_days=4, abandon=0.02, convert=0.85, weekend_convert=1.0, churn_days=900,
        value_median=55, value_sigma=0.45, views=1.8, searches=0.3, home_entry=0.65,
        remove=0.12, device_p=(0.40, 0.50, 0.10), channel_p=(0.45, 0.10, 0.35, 0.10),
    ),
    _Segment(  # browsers: visit and look a lot, start many episodes, rarely buy
        share=0.33, idle_visit=0.22, cycle_days=100, base_hazard=0.03, need_hazard=0.30,
        ramp_days=5, abandon=0.15, convert=0.20, weekend_convert=1.0, churn_days=500,
        value_median=40, value_sigma=0.60, views=3.0, searches=0.6, home_entry=0.50,
        remove=0.25, device_p=(0.65, 0.25, 0.10), channel_p=(0.35, 0.20, 0.10, 0.35),
    ),
    _Segment(  # bargain hunters: search a lot, fill carts in the week, buy cheap at weekends
        share=0.25, idle_visit=0.12, cycle_days=35, base_hazard=0.005, need_hazard=0.40,
        ramp_days=5, abandon=0.04, convert=0.30, weekend_convert=2.8, churn_days=400,
        value_median=22, value_sigma=0.40, views=2.2, searches=1.3, home_entry=0.30,
        remove=0.40, device_p=(0.55, 0.35, 0.10), channel_p=(0.10, 0.45, 0.25, 0.20),
    ),
    _Segment(  # churners: ordinary customers for a few weeks, then fading away
        share=0.20, idle_visit=0.15, cycle_days=25, base_hazard=0.005, need_hazard=0.40,
        ramp_days=4, abandon=0.06, convert=0.60, weekend_convert=1.0, churn_days=40,
        value_median=35, value_sigma=0.50, views=1.8, searches=0.4, home_entry=0.50,
        remove=0.20, device_p=(0.60, 0.30, 0.10), channel_p=(0.20, 0.40, 0.10, 0.30),
    ),
)  # fmt: skip


@dataclass
class _Population:
    """One block of users: static traits and latent state, arrays indexed by block position.

    Blocks draw from their own random streams, so the ``segment_mix`` wave changes nothing about
    the base population.
    """

    first: int  # global number of the block's first user (0-based)
    segment: np.ndarray  # int8 segment code
    join_day: np.ndarray  # int: day of the first visit (0 = first written day)
    device: np.ndarray  # int8: own device
    channel: np.ndarray  # int8: acquisition channel
    activity: np.ndarray  # user-specific visit multiplier
    ramp: np.ndarray  # days for intent to peak
    cycle: np.ndarray  # user-specific purchase cycle (days)
    value_scale: np.ndarray  # user-specific basket multiplier
    churn_day: np.ndarray  # day churn starts
    engagement: np.ndarray  # in [0, 1]; decays once churn started
    walk: np.ndarray  # slow random walk of activity (log scale)
    in_episode: np.ndarray  # bool: shopping episode under way
    episode_age: np.ndarray  # int: days since the episode started
    since_purchase: np.ndarray  # days since the last purchase
    gone: np.ndarray  # bool: churned for good

    def __len__(self) -> int:
        return len(self.segment)

    @property
    def intent(self) -> np.ndarray:
        """Purchase intent in [0, 1]: 0 outside an episode, ramping up within one."""
        return self.in_episode * np.minimum(1.0, (self.episode_age + 1) / self.ramp)


@dataclass(frozen=True)
class _Effects:
    """How drift changes one day (the defaults: no drift)."""

    checkout_factor: float = 1.0
    convert_factor: float = 1.0
    extra_abandon: float = 0.0  # added daily chance that an episode is given up
    mobile_share: float = 0.0  # share of sessions forced to mobile
    new_type_rate: float = 0.0  # share of sessions with live_stream_view events


@dataclass(frozen=True)
class _Sessions:
    """One day's sessions of one block, arrays indexed by session (grouped by user)."""

    user: np.ndarray  # block position of the user, ascending
    rank: np.ndarray  # 1-based number of the session among the user's sessions that day
    intent: np.ndarray
    n_cart: np.ndarray
    remove: np.ndarray
    checkout: np.ndarray
    purchase: np.ndarray


@dataclass(frozen=True)
class _DayEvents:
    """One day's events as numeric columns, plus the session table they point into."""

    user: np.ndarray  # global user number
    session: np.ndarray  # row in the session arrays
    seconds: np.ndarray  # second of the day
    order: np.ndarray  # position within the block's day (keeps session order on ties)
    event_type: np.ndarray  # int8 code in _EVENT_TYPES
    value: np.ndarray
    device: np.ndarray  # int8
    channel: np.ndarray  # int8
    session_user: np.ndarray  # global user number per session
    session_rank: np.ndarray  # per session


def generate(
    out: Path,
    users: int = 2000,
    days: int = 150,
    seed: int = 7,
    start: date = date(2026, 1, 1),
    drift: str | None = None,
    drift_start: date | None = None,
    fmt: str = "csv",
    progress: Callable[[int, int], None] | None = None,
) -> GenerateSummary:
    """Write `days` daily event files of a simulated shop with `users` customers into `out`.

    Same arguments, same bytes. `drift` (one of `DRIFT_KINDS`) takes effect on `drift_start`
    (give both or neither); `fmt` is ``"csv"`` or ``"parquet"``; `progress(done_days,
    total_days)` is called after each file. Existing files of the same days are replaced (each
    file is written under a temporary name, then renamed).
    """
    _validate(users, days, seed, start, drift, drift_start, fmt)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    drift_day = None if drift_start is None else (drift_start - start).days
    blocks = [_base_population(users, days, seed)]
    if drift == "segment_mix" and drift_day is not None:
        blocks.append(_wave_population(users, seed, drift_day))
    total_users = sum(len(p) for p in blocks)
    names = pa.array([f"u{i:06d}" for i in range(1, total_users + 1)], type=pa.string())
    seen = np.zeros(total_users, dtype=bool)
    files: list[Path] = []
    events = 0
    for day in range(-BURN_IN_DAYS, days):
        effects = _effects(drift, drift_day, day)
        today = start + timedelta(days=day)
        parts = []
        for b, pop in enumerate(blocks):
            state_rng = np.random.default_rng([seed, b, day + BURN_IN_DAYS, 0])
            sessions = _simulate_sessions(pop, day, today.weekday(), state_rng, effects)
            if day >= 0 and len(sessions.user):
                obs_rng = np.random.default_rng([seed, b, day + BURN_IN_DAYS, 1])
                parts.append(_materialize(pop, sessions, obs_rng, effects))
            _advance(pop, sessions, day, state_rng, effects)
        if day < 0:
            continue
        merged = _merge_day(parts)
        seen[merged.session_user] = True
        path = out / f"events_{today.isoformat()}.{fmt}"
        _write_day(path, _to_table(merged, names, today, fmt), fmt)
        events += len(merged.user)
        files.append(path)
        if progress is not None:
            progress(day + 1, days)
    return GenerateSummary(
        out=out,
        files=files,
        events=events,
        users=int(seen.sum()),
        days=days,
        start=start,
        drift=drift,
        drift_start=drift_start,
    )


def _validate(
    users: int,
    days: int,
    seed: int,
    start: date,
    drift: str | None,
    drift_start: date | None,
    fmt: str,
) -> None:
    """Raise ValueError with a clear message for any bad argument of `generate`."""
    for name, value in (("users", users), ("days", days)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not _is_date(start):
        raise ValueError(f"start must be a datetime.date, got {start!r}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if drift is not None and drift not in DRIFT_KINDS:
        raise ValueError(f"unknown drift kind {drift!r}; choose one of {', '.join(DRIFT_KINDS)}")
    if (drift is None) != (drift_start is None):
        raise ValueError("drift and drift_start go together: give both or neither")
    if drift_start is not None:
        if not _is_date(drift_start):
            raise ValueError(f"drift_start must be a datetime.date, got {drift_start!r}")
        end = start + timedelta(days=days - 1)
        if not start <= drift_start <= end:
            raise ValueError(
                f"drift_start {drift_start} is outside the generated period {start}..{end}"
            )


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_date(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _effects(drift: str | None, drift_day: int | None, day: int) -> _Effects:
    """The drift effects active on `day` (none before `drift_day`)."""
    if drift is None or drift_day is None or day < drift_day:
        return _Effects()
    if drift == "conversion_drop":
        return _Effects(checkout_factor=0.5, convert_factor=0.25, extra_abandon=0.12)
    if drift == "mobile_shift":
        return _Effects(mobile_share=0.6)
    if drift == "new_event_type":
        return _Effects(new_type_rate=0.35)
    return _Effects()  # segment_mix acts through the wave of new users


@lru_cache(maxsize=1)
def _segment_arrays() -> dict[str, np.ndarray]:
    """The segment parameters as arrays indexed by segment code."""
    return {
        f.name: np.array([getattr(s, f.name) for s in _SEGMENT_PARAMS]) for f in fields(_Segment)
    }


def _draw_categories(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of `probs` (rows sum to 1), as int8 codes."""
    u = rng.random(len(probs))[:, None]
    codes = (u > np.cumsum(probs, axis=1)).sum(axis=1)
    return np.minimum(codes, probs.shape[1] - 1).astype(np.int8)


def _new_users(
    rng: np.random.Generator,
    first: int,
    segment: np.ndarray,
    join_day: np.ndarray,
    device_p: np.ndarray,
    channel_p: np.ndarray,
) -> _Population:
    """Users with static traits and an initial latent state drawn around their segment."""
    n = len(segment)
    seg = _segment_arrays()
    cycle = seg["cycle_days"][segment] * rng.lognormal(0.0, 0.25, n)
    return _Population(
        first=first,
        segment=segment.astype(np.int8),
        join_day=join_day.astype(np.int64),
        device=_draw_categories(rng, device_p),
        channel=_draw_categories(rng, channel_p),
        activity=rng.lognormal(0.0, 0.35, n),
        ramp=np.maximum(1.0, seg["ramp_days"][segment] * rng.lognormal(0.0, 0.3, n)),
        cycle=cycle,
        value_scale=rng.lognormal(0.0, 0.3, n),
        churn_day=join_day + 7 + rng.exponential(seg["churn_days"][segment]),
        engagement=np.ones(n),
        walk=rng.normal(0.0, 0.4, n),
        in_episode=rng.random(n) < 0.35,  # many newcomers arrive with something in mind
        episode_age=np.zeros(n, dtype=np.int64),
        since_purchase=rng.uniform(0.0, 1.0, n) * cycle,
        gone=np.zeros(n, dtype=bool),
    )


def _base_population(users: int, days: int, seed: int) -> _Population:
    """The shop's customers: half known before day one, the others joining uniformly."""
    rng = np.random.default_rng([seed, 0, 1_000_000_000])
    shares = np.array([s.share for s in _SEGMENT_PARAMS])
    segment = rng.choice(len(shares), size=users, p=shares / shares.sum())
    early = rng.random(users) < 0.5
    join_day = np.where(early, rng.integers(-BURN_IN_DAYS, 0, users), rng.integers(0, days, users))
    seg = _segment_arrays()
    return _new_users(
        rng, 0, segment, join_day, seg["device_p"][segment], seg["channel_p"][segment]
    )


def _wave_population(users: int, seed: int, drift_day: int) -> _Population:
    """The ``segment_mix`` wave: bargain hunters and browsers from ads and social, mostly on
    mobile, arriving at a steady rate over the `_WAVE_DAYS` days from `drift_day`."""
    rng = np.random.default_rng([seed, 1, 1_000_000_000])
    n = max(1, round(_WAVE_SIZE * users))
    segment = np.where(rng.random(n) < _WAVE_BARGAIN, _BARGAIN, _BROWSER)
    join_day = drift_day + rng.integers(0, _WAVE_DAYS, n)
    device_p = np.broadcast_to(np.array(_WAVE_DEVICES), (n, len(DEVICES)))
    channel_p = np.broadcast_to(np.array(_WAVE_CHANNELS), (n, len(CHANNELS)))
    return _new_users(rng, users, segment, join_day, device_p, channel_p)


def _simulate_sessions(
    pop: _Population, day: int, weekday: int, rng: np.random.Generator, effects: _Effects
) -> _Sessions:
    """Who visits on `day`, how many sessions each, and which sessions cart / check out / buy."""
    seg = _segment_arrays()
    present = np.flatnonzero((pop.join_day <= day) & ~pop.gone)
    intent = pop.intent[present]
    idle = seg["idle_visit"][pop.segment[present]] * pop.activity[present]
    idle = idle * np.exp(pop.walk[present])
    p_visit = pop.engagement[present] * _WEEKDAY[weekday] * (idle + (_PEAK_VISIT - idle) * intent)
    p_visit = np.where(pop.join_day[present] == day, 1.0, np.clip(p_visit, 0.0, 0.97))
    visitors = present[rng.random(len(present)) < p_visit]
    n_sessions = 1 + np.minimum(rng.poisson(0.15 + 0.6 * pop.intent[visitors]), 5)
    user = np.repeat(visitors, n_sessions)
    rank = np.arange(len(user)) - np.repeat(np.cumsum(n_sessions) - n_sessions, n_sessions) + 1
    n = len(user)
    intent_s = pop.intent[user]
    seg_s = pop.segment[user]
    cart = rng.random(n) < 0.03 + 0.65 * intent_s**1.5
    n_cart = cart * (1 + rng.poisson(0.4, n))
    remove = cart & (rng.random(n) < seg["remove"][seg_s])
    checkout = cart & (rng.random(n) < (0.15 + 0.7 * intent_s) * effects.checkout_factor)
    weekend = seg["weekend_convert"][seg_s] if weekday >= 5 else 1.0
    # the longer an episode has gone on, the readier the user is to buy
    ready = 0.4 + 0.6 * np.minimum(1.0, pop.episode_age[user] / pop.ramp[user])
    p_buy = np.minimum(0.98, seg["convert"][seg_s] * weekend * ready * effects.convert_factor)
    purchase = checkout & (rng.random(n) < p_buy)
    return _Sessions(user, rank, intent_s, n_cart, remove, checkout, purchase)


def _advance(
    pop: _Population,
    sessions: _Sessions,
    day: int,
    rng: np.random.Generator,
    effects: _Effects,
) -> None:
    """Move the latent state of every present user from `day` to the next day."""
    seg = _segment_arrays()
    s = pop.segment
    present = (pop.join_day <= day) & ~pop.gone
    bought = np.zeros(len(pop), dtype=bool)
    bought[sessions.user[sessions.purchase]] = True
    u = rng.random((2, len(pop)))
    # an episode ends with a purchase, by abandonment, or after three weeks
    give_up = u[0] < seg["abandon"][s] + effects.extra_abandon
    pop.in_episode &= ~(bought | give_up | (pop.episode_age >= 21))
    pop.since_purchase = np.where(bought, 0.0, pop.since_purchase + present)
    pop.episode_age = np.where(pop.in_episode, pop.episode_age + 1, 0)
    # need (days since the last purchase against the user's cycle) starts new episodes
    need = 1.0 / (1.0 + np.exp(-15.0 * (pop.since_purchase / pop.cycle - 1.0)))
    hazard = pop.engagement * (seg["base_hazard"][s] + seg["need_hazard"][s] * need)
    pop.in_episode |= present & ~bought & (u[1] < hazard)
    # churn: engagement decays once the churn day has passed, then the user is gone for good
    churning = present & (day >= pop.churn_day)
    pop.engagement = np.where(churning, pop.engagement * _CHURN_DECAY, pop.engagement)
    pop.gone |= churning & (pop.engagement < _GONE_BELOW)
    # slow, persistent ups and downs of activity (AR(1) on the log scale)
    step = 0.93 * pop.walk + 0.147 * rng.normal(0.0, 1.0, len(pop))
    pop.walk = np.where(present, step, pop.walk)


def _materialize(
    pop: _Population, sessions: _Sessions, rng: np.random.Generator, effects: _Effects
) -> _DayEvents:
    """The events of one block's sessions of a day, ordered by session then within session."""
    seg = _segment_arrays()
    n = len(sessions.user)
    seg_s = pop.segment[sessions.user]
    intent = sessions.intent
    sess = np.arange(n)
    home = rng.random(n) < seg["home_entry"][seg_s]
    n_search = rng.poisson(seg["searches"][seg_s] * (0.5 + intent))
    n_view = 1 + rng.poisson(seg["views"][seg_s] * (0.6 + 1.6 * intent))
    recent_buyer = pop.since_purchase[sessions.user] < 10
    support = rng.random(n) < np.where(recent_buyer, 0.07, 0.012)
    n_live = np.zeros(n, dtype=np.int64)
    if effects.new_type_rate > 0:
        n_live = (rng.random(n) < effects.new_type_rate) * (1 + rng.poisson(0.5, n))
    # (session, type, sort key): the key's integer part is the stage within the session
    parts = [
        (sess, np.where(home, _HOME, _SEARCH).astype(np.int8), np.zeros(n)),
        _stage(sess, n_search, _SEARCH, rng, 1.0, 0.9),
        _stage(sess, n_view, _VIEW, rng, 1.0, 1.0),
        _stage(sess, n_live, _LIVE, rng, 1.0, 1.0),
        _stage(sess, sessions.n_cart, _CART, rng, 1.2, 0.79),
        _stage(sess, sessions.remove, _REMOVE, rng, 2.0, 0.0),
        _stage(sess, sessions.checkout, _CHECKOUT, rng, 3.0, 0.0),
        _stage(sess, sessions.purchase, _PURCHASE, rng, 4.0, 0.0),
        _stage(sess, support, _SUPPORT, rng, 5.0, 0.0),
    ]
    ev_sess = np.concatenate([p[0] for p in parts])
    ev_type = np.concatenate([p[1] for p in parts])
    order = np.lexsort((np.concatenate([p[2] for p in parts]), ev_sess))
    ev_sess, ev_type = ev_sess[order], ev_type[order]
    value = np.zeros(len(ev_sess))
    buys = np.flatnonzero(ev_type == _PURCHASE)
    value[buys] = _basket_values(pop, sessions, ev_sess[buys], rng)
    return _DayEvents(
        user=pop.first + sessions.user[ev_sess],
        session=ev_sess,
        seconds=_event_seconds(sessions, ev_sess, ev_type, rng),
        order=np.arange(len(ev_sess)),
        event_type=ev_type,
        value=value,
        device=_session_devices(pop, sessions, rng, effects)[ev_sess],
        channel=_session_channels(pop, sessions, rng)[ev_sess],
        session_user=pop.first + sessions.user,
        session_rank=sessions.rank,
    )


def _stage(
    sess: np.ndarray,
    counts: np.ndarray,
    event_type: int,
    rng: np.random.Generator,
    key_base: float,
    key_spread: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`counts[i]` events of `event_type` in session i, with sort keys in a stage's band."""
    rows = np.repeat(sess, counts.astype(np.int64))
    keys = (
        key_base + key_spread * rng.random(len(rows))
        if key_spread
        else np.full(len(rows), key_base)
    )
    return rows, np.full(len(rows), event_type, dtype=np.int8), keys


def _event_seconds(
    sessions: _Sessions, ev_sess: np.ndarray, ev_type: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Second of the day of each event: sessions start on a daily rhythm, events follow by gaps.

    A user's sessions of the day never overlap (a later one starts a minute after the earlier
    one ended at the soonest); times are clipped to the day's last second.
    """
    n = len(sessions.user)
    gap_mean = np.array([_GAP_MEAN_S[t] for t in _EVENT_TYPES], dtype=np.float64)
    gaps = np.rint(1 + rng.exponential(1.0, len(ev_sess)) * gap_mean[ev_type])
    first = np.searchsorted(ev_sess, np.arange(n))
    gaps[first] = 0
    elapsed = np.cumsum(gaps)
    offset = elapsed - elapsed[first][ev_sess]
    last = np.append(first[1:], len(ev_sess)) - 1
    duration = offset[last]
    hourly = np.array(_HOURLY)
    hour = np.searchsorted(np.cumsum(hourly) / hourly.sum(), rng.random(n), side="right")
    start = np.minimum(hour * 3600 + rng.integers(0, 3600, n), 86399 - duration)
    start = start[np.lexsort((start, sessions.user))]  # ascending within each user's sessions
    for rank in range(2, int(sessions.rank.max(initial=1)) + 1):
        later = np.flatnonzero(sessions.rank == rank)
        start[later] = np.maximum(start[later], start[later - 1] + duration[later - 1] + 60)
    return np.minimum(start[ev_sess] + offset, 86399).astype(np.int64)


def _basket_values(
    pop: _Population, sessions: _Sessions, sess: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Amounts paid (> 0, in cents) per purchase: lognormal per segment, more items cost more."""
    seg = _segment_arrays()
    user = sessions.user[sess]
    s = pop.segment[user]
    base = seg["value_median"][s] * rng.lognormal(0.0, seg["value_sigma"][s])
    items = 1 + 0.35 * (sessions.n_cart[sess] - 1)
    return np.maximum(1.0, np.round(base * pop.value_scale[user] * items, 2))


def _session_devices(
    pop: _Population, sessions: _Sessions, rng: np.random.Generator, effects: _Effects
) -> np.ndarray:
    """Device code per session: mostly the user's own; under ``mobile_shift`` mostly mobile."""
    n = len(sessions.user)
    own = rng.random(n) < 0.85
    device = np.where(own, pop.device[sessions.user], rng.integers(0, len(DEVICES), n))
    if effects.mobile_share > 0:
        device = np.where(rng.random(n) < effects.mobile_share, DEVICES.index("mobile"), device)
    return device.astype(np.int8)


def _session_channels(
    pop: _Population, sessions: _Sessions, rng: np.random.Generator
) -> np.ndarray:
    """Channel code per session: mostly the user's acquisition channel, else any."""
    n = len(sessions.user)
    own = rng.random(n) < 0.8
    channel = np.where(own, pop.channel[sessions.user], rng.integers(0, len(CHANNELS), n))
    return channel.astype(np.int8)


def _merge_day(parts: list[_DayEvents]) -> _DayEvents:
    """The day's events of all blocks in file order: by time, then user, then session order."""
    if not parts:
        empty_i = np.zeros(0, dtype=np.int64)
        empty_c = np.zeros(0, dtype=np.int8)
        return _DayEvents(
            empty_i, empty_i, empty_i, empty_i, empty_c, np.zeros(0), empty_c, empty_c,
            empty_i, empty_i,
        )  # fmt: skip
    session_offset = np.cumsum([0] + [len(p.session_user) for p in parts[:-1]])
    session = np.concatenate([p.session + o for p, o in zip(parts, session_offset, strict=True)])
    user = np.concatenate([p.user for p in parts])
    seconds = np.concatenate([p.seconds for p in parts])
    order = np.lexsort((np.concatenate([p.order for p in parts]), user, seconds))

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])[order]

    return _DayEvents(
        user=user[order],
        session=session[order],
        seconds=seconds[order],
        order=np.arange(len(order)),
        event_type=cat("event_type"),
        value=cat("value"),
        device=cat("device"),
        channel=cat("channel"),
        session_user=np.concatenate([p.session_user for p in parts]),
        session_rank=np.concatenate([p.session_rank for p in parts]),
    )


@lru_cache(maxsize=1)
def _clock_strings() -> pa.Array:
    """``"HH:MM:SSZ"`` for every second of a day."""
    return pa.array(
        [f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)],
        type=pa.string(),
    )


def _to_table(events: _DayEvents, names: pa.Array, today: date, fmt: str) -> pa.Table:
    """The day's events as an Arrow table with the canonical columns, strings resolved."""
    if fmt == "csv":
        clock = pc.take(_clock_strings(), pa.array(events.seconds))
        event_time = pc.binary_join_element_wise(f"{today.isoformat()}T", clock, "")
    else:
        midnight = (today - date(1970, 1, 1)).days * 86400
        micros = (midnight + events.seconds) * 1_000_000
        event_time = pa.array(micros, type=pa.timestamp("us", tz="UTC"))
    session_ids = pc.binary_join_element_wise(
        pc.take(names, pa.array(events.session_user)),
        f"-{today:%Y%m%d}-",
        pc.cast(pa.array(events.session_rank), pa.string()),
        "",
    )
    columns = {
        "user_id": pc.take(names, pa.array(events.user)),
        "event_time": event_time,
        "event_type": _labels(_EVENT_TYPES, events.event_type),
        "session_id": pc.take(session_ids, pa.array(events.session)),
        "value": pa.array(events.value, type=pa.float64()),
        "device": _labels(DEVICES, events.device),
        "channel": _labels(CHANNELS, events.channel),
    }
    return pa.table({name: columns[name] for name in COLUMNS})


def _labels(names: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """Category codes as a plain string column."""
    return pc.take(pa.array(names, type=pa.string()), pa.array(codes))


def _write_day(path: Path, table: pa.Table, fmt: str) -> None:
    """Write one day file under a temporary name, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "csv":
        # no field ever holds a comma, quote or newline, so nothing needs quoting
        with open(tmp, "wb") as sink:
            sink.write((",".join(COLUMNS) + "\n").encode())
            options = pacsv.WriteOptions(include_header=False, quoting_style="none")
            pacsv.write_csv(table, sink, options)
    else:
        pq.write_table(table, tmp)
    os.replace(tmp, path)
