"""Synthetic event logs of an online shop, with optional injected drift.

The data is a simulation of customers of a web shop, one file per calendar day
(`events_YYYY-MM-DD.csv` or `.parquet`) in the canonical schema of DESIGN.md section 1, plus
two context columns:

``user_id, event_time, event_type, session_id, value, device, channel``

- ``event_time``: UTC, second resolution; ISO 8601 text such as ``2026-01-03T14:05:11Z`` in CSV,
  ``timestamp[us, tz=UTC]`` in Parquet. Rows of a file are sorted by time.
- ``event_type``: one of `DEFAULT_EVENT_TYPES` (plus ``live_stream_view`` under the
  ``new_event_type`` drift).
- ``session_id``: ``<user_id>-<YYYYMMDD>-<n>``, the n-th session of that user that day; the
  events of a session are consecutive in time and in a plausible order (entry page ``home`` or
  ``search`` -> searches / product views -> cart adds -> maybe a removal -> ``checkout`` ->
  ``purchase``; a ``support_chat`` comes last).
- ``value``: the amount paid (> 0, two decimals) on ``purchase`` rows and exactly ``0`` on every
  other row, so the column is never empty.
- ``device`` (mobile / desktop / tablet) and ``channel`` (organic / ads / email / social): drawn
  per session, mostly the user's own preferred device and acquisition channel.

How the customers behave (what a model can learn):

- Four segments with different activity, conversion and basket size: loyal buyers (buy every
  couple of weeks), browsers (look a lot, rarely buy), bargain hunters (search-heavy, cheap
  baskets, remove items, buy more at weekends) and churners (active for a few weeks, then leave).
- Each user carries a latent state that evolves day by day:
  *need* grows with the days since the last purchase and makes a *shopping episode* start;
  during an episode the *intent* ramps up over a few days, which raises the visit rate, the
  number of product views and the chance of cart adds and checkouts; a purchase ends the episode
  (intent resets) and an abandoned episode ends without one. Cart adds without a purchase in the
  last days, a rising browse streak and the time since the last purchase therefore predict a
  purchase in the next days; a declining visit rate predicts churn (*engagement* decays by a
  constant factor per day once a user's churn starts, then the user never comes back).
  A slow random walk of activity adds persistent, user-specific ups and downs.
- Weekly seasonality (weekends busier), a daily rhythm (evenings busiest), users joining over
  time (about half the users exist before the first day, a 45-day warm-up that is not written
  makes their state realistic on day one), new users arriving on their join day.

Drift (`DRIFT_KINDS`), from ``drift_start`` on (everything before it is byte-identical to the
same call without drift):

- ``conversion_drop``: checkouts halve and a checkout converts about 3x less often;
- ``mobile_shift``: about 80 % of all sessions come from mobile;
- ``new_event_type``: ``live_stream_view`` events appear in about 35 % of sessions;
- ``segment_mix``: a wave of new bargain-hunter / browser users (about 0.8x `users`) arriving
  from ads and social over the following weeks, ramping up so no single day's volume jumps.

Everything is vectorised per day across all users (no per-event Python loop) and written day by
day, so memory stays bounded by one day's events.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
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

#: days simulated before the first written day so that day one starts from a realistic state.
BURN_IN_DAYS = 45

_EVENT_TYPES = (*DEFAULT_EVENT_TYPES, NEW_EVENT_TYPE)
(
    _HOME,
    _SEARCH,
    _VIEW,
    _CART,
    _REMOVE,
    _CHECKOUT,
    _PURCHASE,
    _SUPPORT,
    _LIVE,
) = (
    _EVENT_TYPES.index(t)
    for t in (
        "home",
        "search",
        "product_view",
        "add_to_cart",
        "remove_from_cart",
        "checkout",
        "purchase",
        "support_chat",
        NEW_EVENT_TYPE,
    )
)
#: mean seconds from the previous event of the session, per event type (index as _EVENT_TYPES).
_GAP_MEAN_S = np.array([0, 20, 40, 25, 15, 35, 60, 90, 120], dtype=np.float64)
#: relative session starts per hour of day (UTC): quiet nights, busy lunch and evenings.
_HOURLY = np.array(
    [
        0.6,
        0.35,
        0.2,
        0.15,
        0.15,
        0.25,
        0.6,
        1.1,
        1.5,
        1.7,
        1.8,
        1.9,
        2.1,
        2.0,
        1.8,
        1.8,
        1.9,
        2.1,
        2.5,
        2.9,
        3.1,
        2.8,
        2.0,
        1.2,
    ]
)
#: relative visit rate Monday..Sunday: weekends busier.
_WEEKDAY = np.array([0.97, 0.96, 0.97, 0.98, 1.0, 1.1, 1.08])
_WAVE_CHANNELS = np.array([0.05, 0.50, 0.05, 0.40])  # organic, ads, email, social
_WAVE_DEVICES = np.array([0.75, 0.15, 0.10])  # mobile, desktop, tablet
_PEAK_VISIT = 0.8  # visit probability at full intent and engagement
_GONE_BELOW = 0.03  # engagement under which a churning user never comes back


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
    cycle_days: float  # typical days between purchases (need is full after this)
    base_hazard: float  # daily chance an episode starts regardless of need
    need_hazard: float  # extra daily chance once the days since the last purchase pass the cycle
    ramp_days: float  # mean days for intent to reach its peak within an episode
    abandon: float  # daily chance an episode ends without a purchase
    convert: float  # chance a checkout becomes a purchase
    churn_days: float  # mean days from joining until churn starts
    value_median: float  # median basket value
    value_sigma: float  # log-sd of basket values
    views: float  # product views per session (scale)
    searches: float  # extra searches per session (scale)
    home_entry: float  # chance a session starts on the home page (else a search)
    remove: float  # chance a session with cart adds also removes an item
    weekend_convert: float  # conversion multiplier on Saturdays and Sundays
    device_p: tuple[float, float, float]  # mobile, desktop, tablet
    channel_p: tuple[float, float, float, float]  # organic, ads, email, social


_SEGMENT_PARAMS = (
    # loyal buyers: regular purchase rhythm, convert well
    _Segment(
        0.22,
        0.12,
        18,
        0.003,
        0.45,
        4,
        0.02,
        0.85,
        900,
        55,
        0.45,
        1.8,
        0.3,
        0.65,
        0.12,
        1.0,
        (0.40, 0.50, 0.10),
        (0.45, 0.10, 0.35, 0.10),
    ),
    # browsers: visit and look a lot, start many episodes, rarely buy
    _Segment(
        0.33,
        0.22,
        100,
        0.030,
        0.30,
        5,
        0.15,
        0.20,
        500,
        40,
        0.60,
        3.0,
        0.6,
        0.50,
        0.25,
        1.0,
        (0.65, 0.25, 0.10),
        (0.35, 0.20, 0.10, 0.35),
    ),
    # bargain hunters: search a lot, fill carts during the week, buy cheap at weekends
    _Segment(
        0.25,
        0.12,
        35,
        0.005,
        0.40,
        5,
        0.04,
        0.30,
        400,
        22,
        0.40,
        2.2,
        1.3,
        0.30,
        0.40,
        2.8,
        (0.55, 0.35, 0.10),
        (0.10, 0.45, 0.25, 0.20),
    ),
    # churners: normal customers for a few weeks, then fading away
    _Segment(
        0.20,
        0.15,
        25,
        0.005,
        0.40,
        4,
        0.06,
        0.60,
        40,
        35,
        0.50,
        1.8,
        0.4,
        0.50,
        0.20,
        1.0,
        (0.60, 0.30, 0.10),
        (0.20, 0.40, 0.10, 0.30),
    ),
)
_LOYAL, _BROWSER, _BARGAIN, _CHURNER = range(4)


@lru_cache(maxsize=1)
def _segment_arrays() -> dict[str, np.ndarray]:
    """The segment parameters as arrays indexed by segment code."""
    names = _Segment.__dataclass_fields__
    return {n: np.array([getattr(s, n) for s in _SEGMENT_PARAMS]) for n in names}


@lru_cache(maxsize=1)
def _hms_table() -> np.ndarray:
    """``"HH:MM:SSZ"`` for every second of a day (object array of 86400 strings)."""
    return np.array(
        [f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)],
        dtype=object,
    )


@dataclass
class _Population:
    """The users of one block and their latent state (arrays indexed by local user number).

    Blocks are simulated with their own random streams, so adding the ``segment_mix`` wave of
    users changes nothing about the base population.
    """

    names: np.ndarray  # object: user_id strings
    numbers: np.ndarray  # int: global user numbers (the digits of the names)
    segment: np.ndarray  # int8
    join_day: np.ndarray  # int: simulated day of the first visit (0 = first written day)
    device: np.ndarray  # int8: preferred device
    channel: np.ndarray  # int8: acquisition channel
    activity: np.ndarray  # float: user-specific activity multiplier
    ramp: np.ndarray  # float: days for intent to peak
    cycle: np.ndarray  # float: user-specific purchase cycle
    value_scale: np.ndarray  # float: user-specific basket multiplier
    churn_day: np.ndarray  # float: day churn starts
    engagement: np.ndarray  # float in [0, 1]
    walk: np.ndarray  # float: slow random walk of activity (log scale)
    in_episode: np.ndarray  # bool
    episode_age: np.ndarray  # int: days since the episode started
    since_purchase: np.ndarray  # float: days since the last purchase (need)
    gone: np.ndarray  # bool: churned for good

    @property
    def intent(self) -> np.ndarray:
        """Purchase intent in [0, 1]: 0 outside an episode, ramping up within one."""
        return self.in_episode * np.minimum(1.0, (self.episode_age + 1) / self.ramp)


@dataclass(frozen=True)
class _Effects:
    """How drift changes one day (neutral values = no drift)."""

    checkout_factor: float = 1.0
    convert_factor: float = 1.0
    mobile_share: float = 0.0  # share of sessions forced to mobile
    new_type_rate: float = 0.0  # share of sessions with live_stream_view
    extra_abandon: float = 0.0  # added daily chance that a shopping episode is given up


@dataclass
class _Sessions:
    """One day's sessions of one block (arrays indexed by session)."""

    user: np.ndarray  # local user number, grouped and ascending
    rank: np.ndarray  # 1-based session number of the user that day
    intent: np.ndarray
    n_cart: np.ndarray
    remove: np.ndarray
    checkout: np.ndarray
    purchase: np.ndarray


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
    """Write `days` daily event files of a simulated shop with `users` customers to `out`.

    Same arguments, same bytes. `drift` (one of `DRIFT_KINDS`) takes effect from `drift_start`
    (both or neither); `fmt` is ``"csv"`` or ``"parquet"``; `progress(done_days, total_days)` is
    called after each file. Existing files of the same days are replaced.
    """
    _validate(users, days, seed, start, drift, drift_start, fmt)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    drift_day = (drift_start - start).days if drift_start is not None else None
    blocks = [_base_population(users, days, seed)]
    if drift == "segment_mix":
        assert drift_day is not None
        blocks.append(_wave_population(users, seed, drift_day))
    seen = [np.zeros(len(p.names), dtype=bool) for p in blocks]
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
                parts.append(_materialize(pop, sessions, today, obs_rng, effects))
                seen[b][sessions.user] = True
            _advance(pop, sessions, day, state_rng, effects)
        if day < 0:
            continue
        path = out / f"events_{today.isoformat()}.{fmt}"
        events += _write_day(path, _merge_day(parts), today, fmt)
        files.append(path)
        if progress is not None:
            progress(day + 1, days)
    return GenerateSummary(
        out=out,
        files=files,
        events=events,
        users=int(sum(int(s.sum()) for s in seen)),
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
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(start, date) or isinstance(start, datetime):
        raise ValueError(f"start must be a datetime.date, got {start!r}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if drift is not None and drift not in DRIFT_KINDS:
        raise ValueError(f"unknown drift kind {drift!r}; choose one of {DRIFT_KINDS}")
    if (drift is None) != (drift_start is None):
        raise ValueError("drift and drift_start go together: give both or neither")
    if drift_start is not None:
        if not isinstance(drift_start, date) or isinstance(drift_start, datetime):
            raise ValueError(f"drift_start must be a datetime.date, got {drift_start!r}")
        end = start + timedelta(days=days - 1)
        if not start <= drift_start <= end:
            raise ValueError(
                f"drift_start {drift_start} is outside the generated period {start}..{end}"
            )


def _effects(drift: str | None, drift_day: int | None, day: int) -> _Effects:
    """The drift effects active on `day` (neutral before `drift_day`)."""
    if drift is None or drift_day is None or day < drift_day:
        return _Effects()
    if drift == "conversion_drop":
        return _Effects(checkout_factor=0.5, convert_factor=0.25, extra_abandon=0.12)
    if drift == "mobile_shift":
        return _Effects(mobile_share=0.6)
    if drift == "new_event_type":
        return _Effects(new_type_rate=0.35)
    return _Effects()  # segment_mix acts through the extra block of users


def _user_names(first: int, n: int) -> np.ndarray:
    """``u000001``-style user ids for global numbers first..first+n-1."""
    return np.array([f"u{i:06d}" for i in range(first + 1, first + n + 1)], dtype=object)


def _draw_categories(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of `probs` (rows sum to 1), as int8 codes."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1).astype(np.int8)


def _new_users(
    rng: np.random.Generator,
    names: np.ndarray,
    segment: np.ndarray,
    join_day: np.ndarray,
    channel_p: np.ndarray | None = None,
) -> _Population:
    """Users with their static traits and an initial latent state drawn around their segment."""
    n = len(names)
    seg = _segment_arrays()
    device_p = seg["device_p"][segment]
    if channel_p is None:
        channel_p = seg["channel_p"][segment]
    cycle = seg["cycle_days"][segment] * rng.lognormal(0.0, 0.25, n)
    return _Population(
        names=names,
        numbers=np.array([int(x[1:]) for x in names], dtype=np.int64),
        segment=segment.astype(np.int8),
        join_day=join_day.astype(np.int64),
        device=_draw_categories(rng, device_p),
        channel=_draw_categories(rng, np.broadcast_to(channel_p, (n, 4))),
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
    """The shop's customers: about half known before day one, the others joining uniformly."""
    rng = np.random.default_rng([seed, 0, 10**9])
    shares = np.array([s.share for s in _SEGMENT_PARAMS])
    segment = rng.choice(len(shares), size=users, p=shares / shares.sum())
    early = rng.random(users) < 0.5
    join_day = np.where(
        early,
        rng.integers(-BURN_IN_DAYS, 0, users),
        rng.integers(0, days, users),
    )
    return _new_users(rng, _user_names(0, users), segment, join_day)


def _wave_population(users: int, seed: int, drift_day: int) -> _Population:
    """The ``segment_mix`` wave: bargain hunters and browsers from ads and social, mostly on
    mobile, arriving at a steady rate over the five weeks after `drift_day` (so that no single
    day's volume jumps, while a clear share of each week's active users is new)."""
    rng = np.random.default_rng([seed, 1, 10**9])
    n = users
    segment = np.where(rng.random(n) < 0.65, _BARGAIN, _BROWSER)
    join_day = drift_day + rng.integers(0, 35, n)
    pop = _new_users(rng, _user_names(users, n), segment, join_day, _WAVE_CHANNELS)
    pop.device = _draw_categories(rng, np.broadcast_to(_WAVE_DEVICES, (n, 3)))
    return pop


def _simulate_sessions(
    pop: _Population, day: int, weekday: int, rng: np.random.Generator, effects: _Effects
) -> _Sessions:
    """Who visits today, how many sessions, and which of them add to cart / check out / buy."""
    seg = _segment_arrays()
    present = np.flatnonzero((pop.join_day <= day) & ~pop.gone)
    intent = pop.intent[present]
    s = pop.segment[present]
    idle = seg["idle_visit"][s] * pop.activity[present] * np.exp(pop.walk[present])
    p_visit = pop.engagement[present] * _WEEKDAY[weekday] * (idle + (_PEAK_VISIT - idle) * intent)
    p_visit = np.where(pop.join_day[present] == day, 1.0, np.clip(p_visit, 0.0, 0.97))
    visitors = present[rng.random(len(present)) < p_visit]
    n_sessions = 1 + np.minimum(rng.poisson(0.15 + 0.6 * pop.intent[visitors]), 5)
    user = np.repeat(visitors, n_sessions)
    first = np.repeat(np.cumsum(n_sessions) - n_sessions, n_sessions)
    rank = np.arange(len(user)) - first + 1
    intent_s = pop.intent[user]
    seg_s = pop.segment[user]
    n = len(user)
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
    """Move every present user's latent state from `day` to the next day."""
    seg = _segment_arrays()
    present = (pop.join_day <= day) & ~pop.gone
    s = pop.segment
    bought = np.zeros(len(pop.names), dtype=bool)
    bought[sessions.user[sessions.purchase]] = True
    u = rng.random((3, len(pop.names)))
    # episodes end with a purchase, by abandonment, or after three weeks
    give_up = u[0] < seg["abandon"][s] + effects.extra_abandon
    abandon = pop.in_episode & ~bought & (give_up | (pop.episode_age >= 21))
    pop.in_episode &= ~(bought | abandon)
    pop.since_purchase = np.where(bought, 0.0, pop.since_purchase + present)
    pop.episode_age = np.where(pop.in_episode, pop.episode_age + 1, 0)
    # need (time since the last purchase relative to the user's cycle) starts new episodes
    need = 1.0 / (1.0 + np.exp(-15.0 * (pop.since_purchase / pop.cycle - 1.0)))
    hazard = pop.engagement * (seg["base_hazard"][s] + seg["need_hazard"][s] * need)
    start = present & ~pop.in_episode & ~bought & (u[1] < hazard)
    pop.in_episode |= start
    # churn: engagement decays once the user's churn day has passed, then the user is gone
    churning = present & (day >= pop.churn_day)
    pop.engagement = np.where(churning, pop.engagement * 0.88, pop.engagement)
    pop.gone |= churning & (pop.engagement < _GONE_BELOW)
    # slow, persistent ups and downs of activity (AR(1) on the log scale)
    pop.walk = np.where(present, 0.93 * pop.walk + 0.147 * rng.normal(0.0, 1.0, len(s)), pop.walk)


def _materialize(
    pop: _Population,
    sessions: _Sessions,
    today: date,
    rng: np.random.Generator,
    effects: _Effects,
) -> dict[str, np.ndarray]:
    """The events of one day's sessions as columns (unsorted across users)."""
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
    # (session, type, sort key within the session) for every event
    parts = [
        (sess, np.where(home, _HOME, _SEARCH), np.zeros(n)),
        _repeat(sess, n_search, _SEARCH, rng, 1.0, 0.9),
        _repeat(sess, n_view, _VIEW, rng, 1.0, 1.0),
        _repeat(sess, n_live, _LIVE, rng, 1.0, 1.0),
        _repeat(sess, sessions.n_cart, _CART, rng, 1.2, 0.79),
        _repeat(sess, sessions.remove.astype(np.int64), _REMOVE, rng, 2.0, 0.05),
        _repeat(sess, sessions.checkout.astype(np.int64), _CHECKOUT, rng, 3.0, 0.0),
        _repeat(sess, sessions.purchase.astype(np.int64), _PURCHASE, rng, 4.0, 0.0),
        _repeat(sess, support.astype(np.int64), _SUPPORT, rng, 5.0, 0.0),
    ]
    ev_sess = np.concatenate([p[0] for p in parts])
    ev_type = np.concatenate([p[1] for p in parts]).astype(np.int8)
    key = np.concatenate([p[2] for p in parts])
    order = np.lexsort((key, ev_sess))
    ev_sess, ev_type = ev_sess[order], ev_type[order]
    seconds = _event_seconds(sessions, ev_sess, ev_type, rng)
    user = sessions.user[ev_sess]
    value = np.zeros(len(ev_sess))
    buys = np.flatnonzero(ev_type == _PURCHASE)
    if len(buys):
        value[buys] = _basket_values(pop, sessions, ev_sess[buys], rng)
    device = _session_devices(pop, sessions, rng, effects)[ev_sess]
    channel = _session_channels(pop, sessions, rng)[ev_sess]
    session_ids = pop.names[sessions.user] + f"-{today:%Y%m%d}-" + sessions.rank.astype(str)
    return {
        "user_id": pop.names[user],
        "user_number": pop.numbers[user],
        "seconds": seconds,
        "order": np.arange(len(ev_sess)),
        "event_type": ev_type,
        "session_id": session_ids[ev_sess],
        "value": value,
        "device": device,
        "channel": channel,
    }


def _repeat(
    sess: np.ndarray,
    counts: np.ndarray,
    event_type: int,
    rng: np.random.Generator,
    key_base: float,
    key_spread: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`counts[i]` events of `event_type` for session i, with random keys in a stage band."""
    rows = np.repeat(sess, counts)
    keys = (
        key_base + key_spread * rng.random(len(rows))
        if key_spread
        else np.full(len(rows), key_base)
    )
    return rows, np.full(len(rows), event_type, dtype=np.int8), keys


def _event_seconds(
    sessions: _Sessions, ev_sess: np.ndarray, ev_type: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Second of day of each event: sessions start on a daily rhythm, events follow by gaps.

    A user's sessions of the day never overlap; events are clipped to the day's last second.
    """
    n = len(sessions.user)
    gaps = np.rint(1 + rng.exponential(1.0, len(ev_sess)) * _GAP_MEAN_S[ev_type])
    first = np.searchsorted(ev_sess, np.arange(n))
    gaps[first] = 0
    elapsed = np.cumsum(gaps)
    offset = elapsed - elapsed[first][ev_sess]
    duration = np.zeros(n)
    np.maximum.at(duration, ev_sess, offset)
    cdf = np.cumsum(_HOURLY) / _HOURLY.sum()
    hour = np.searchsorted(cdf, rng.random(n), side="right")
    start = hour * 3600 + rng.integers(0, 3600, n)
    start = np.minimum(start, 86399 - duration)
    start = start[np.lexsort((start, sessions.user))]  # sorted within each user's group
    for r in range(2, int(sessions.rank.max(initial=1)) + 1):
        later = np.flatnonzero(sessions.rank == r)
        start[later] = np.maximum(start[later], start[later - 1] + duration[later - 1] + 60)
    return np.minimum(start[ev_sess] + offset, 86399).astype(np.int64)


def _basket_values(
    pop: _Population, sessions: _Sessions, sess: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Amounts paid (> 0, cents) per purchase: lognormal per segment, more items cost more."""
    seg = _segment_arrays()
    user = sessions.user[sess]
    s = pop.segment[user]
    base = seg["value_median"][s] * rng.lognormal(0.0, seg["value_sigma"][s])
    items = 1 + 0.35 * (sessions.n_cart[sess] - 1)
    return np.maximum(1.0, np.round(base * pop.value_scale[user] * items, 2))


def _session_devices(
    pop: _Population, sessions: _Sessions, rng: np.random.Generator, effects: _Effects
) -> np.ndarray:
    """Device code per session: usually the user's own, under ``mobile_shift`` mostly mobile."""
    n = len(sessions.user)
    u = rng.random(n)
    other = rng.integers(0, len(DEVICES), n).astype(np.int8)
    device = np.where(u < 0.85, pop.device[sessions.user], other)
    if effects.mobile_share > 0:
        device = np.where(rng.random(n) < effects.mobile_share, 0, device)
    return device.astype(np.int8)


def _session_channels(
    pop: _Population, sessions: _Sessions, rng: np.random.Generator
) -> np.ndarray:
    """Channel code per session: usually the user's acquisition channel, else any."""
    n = len(sessions.user)
    u = rng.random(n)
    other = rng.integers(0, len(CHANNELS), n).astype(np.int8)
    return np.where(u < 0.8, pop.channel[sessions.user], other).astype(np.int8)


def _merge_day(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One day's events of all blocks, sorted by time, then user, then order in session."""
    if not parts:
        return {
            "user_id": np.array([], dtype=object),
            "seconds": np.array([], dtype=np.int64),
            "event_type": np.array([], dtype=np.int8),
            "session_id": np.array([], dtype=object),
            "value": np.array([], dtype=np.float64),
            "device": np.array([], dtype=np.int8),
            "channel": np.array([], dtype=np.int8),
        }
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cols["order"], cols["user_number"], cols["seconds"]))
    return {k: v[order] for k, v in cols.items()}


def _write_day(path: Path, cols: dict[str, np.ndarray], today: date, fmt: str) -> int:
    """Write one day file atomically (temporary name, then rename); returns the row count."""
    if fmt == "csv":
        event_time = pa.array(
            f"{today.isoformat()}T" + _hms_table()[cols["seconds"]], type=pa.string()
        )
    else:
        midnight = (today - date(1970, 1, 1)).days * 86400
        micros = (midnight + cols["seconds"]) * 1_000_000
        event_time = pa.array(micros, type=pa.timestamp("us", tz="UTC"))
    table = pa.table(
        {
            "user_id": pa.array(cols["user_id"], type=pa.string()),
            "event_time": event_time,
            "event_type": _labels(_EVENT_TYPES, cols["event_type"]),
            "session_id": pa.array(cols["session_id"], type=pa.string()),
            "value": pa.array(cols["value"], type=pa.float64()),
            "device": _labels(DEVICES, cols["device"]),
            "channel": _labels(CHANNELS, cols["channel"]),
        }
    )
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "csv":
        # no field ever contains a comma, quote or newline, so nothing needs quoting
        with open(tmp, "wb") as sink:
            sink.write((",".join(COLUMNS) + "\n").encode())
            pacsv.write_csv(
                table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none")
            )
    else:
        pq.write_table(table, tmp)
    os.replace(tmp, path)
    return table.num_rows


def _labels(names: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """Category codes as a plain string column."""
    return pa.array(np.array(names, dtype=object)[codes], type=pa.string())
