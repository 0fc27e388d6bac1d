"""The drift report: one self-contained HTML page (PNG plots embedded) and its JSON twin."""

from __future__ import annotations

import base64
import html
import io
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from bat_pipeline.drift.groups import GROUP_DESCRIPTIONS, GROUPS
from bat_pipeline.drift.histograms import Histogram
from bat_pipeline.drift.profiles import USER_DAY_FEATURES, Profile
from bat_pipeline.drift.results import DriftResult, FeatureDrift
from bat_pipeline.drift.transitions import transition_probabilities, transition_states

REPORT_HTML = "drift_report.html"
REPORT_JSON = "drift_report.json"
#: histogram plots shown for the features that moved most.
TOP_HISTOGRAMS = 6
_SEQUENCE_DESCRIPTIONS = {
    "session_length": "events per session",
    "inter_event_gap": "log2(1 + seconds) between consecutive events of a session",
    "event_transitions": "P(next event | event) within sessions",
    "prediction_score": "the champion's predicted probability",
}
_MIX_DESCRIPTIONS = {
    "user_age_mix": "share of active user-days from new customers (first seen < 14 days before)",
    "load_outcome_mix": "share of rows loaded vs quarantined per reason",
}
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:.9rem}td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drifted{background:#fde8e8}.badge{padding:.2rem .6rem;border-radius:.3rem;color:#fff}
.yes{background:#c0392b}.no{background:#27ae60}.info{background:#d68910}img{max-width:100%}
"""


def write_drift_report(
    result: DriftResult, reference: Profile, current: Profile, out_dir: Path
) -> Path:
    """Write `drift_report.html` and `drift_report.json` (= `result.to_dict()`) into `out_dir`;
    returns the HTML path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / REPORT_JSON).write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    plots = {
        "Features that moved most (reference vs current shares per bin)": _histogram_figure(
            result, reference, current
        ),
        "Categorical mix": _mix_figure(reference, current),
        "Transitions within sessions: current minus reference P(next | event)": (
            _transition_figure(reference, current)
        ),
    }
    path = out_dir / REPORT_HTML
    path.write_text(_page(result, plots), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------- html


def _page(result: DriftResult, plots: dict[str, bytes | None]) -> str:
    ref, cur = result.reference, result.current
    badge = (
        '<span class="badge yes">drift detected</span>'
        if result.drift_detected
        else '<span class="badge no">no drift</span>'
    )
    images = "".join(
        f"<h2>{html.escape(title)}</h2>"
        f'<img alt="{html.escape(title)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}">'
        for title, png in plots.items()
        if png
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Drift report</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Drift report {badge}</h1>"
        f"<p>{html.escape(result.verdict)}</p>"
        f"<p>Reference {_window(ref)}<br>Current {_window(cur)}</p>"
        "<p>Each signal is held to its own threshold: the configured PSI floor "
        f"({result.threshold:g}), raised where the windows are small enough for sampling noise "
        "alone to reach it; <em>noise</em> is the PSI expected if nothing had changed.</p>"
        f"{_groups(result)}{_notes(result.notes)}{images}</body></html>"
    )


def _groups(result: DriftResult) -> str:
    """One section per signal group, its signals most drifted first."""
    sections = []
    for group in GROUPS:
        members = result.in_group(group)
        if not members:
            continue
        triggers = group in result.trigger_groups
        drifted = any(f.drifted for f in members)
        badge = (
            ('<span class="badge yes">drifted</span>' if triggers else
             '<span class="badge info">moved, reported only</span>')
            if drifted
            else '<span class="badge no">calm</span>'
        )  # fmt: skip
        role = "decides retraining" if triggers else "reported only, not a retrain trigger"
        sections.append(
            f"<h2>{html.escape(group)} ({role}) {badge}</h2>"
            f"<p>{html.escape(GROUP_DESCRIPTIONS[group])}</p>{_table(members)}"
        )
    return "".join(sections)


def _notes(notes: list[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"<h2>Not compared</h2><ul>{items}</ul>"


def _window(summary: dict[str, Any]) -> str:
    if not summary:
        return "(unknown window)"
    sampled = summary.get("sample_rate", 1.0)
    note = f", users sampled at {sampled:.1%}" if sampled < 1.0 else ""
    return html.escape(
        f"{summary['start']} to {summary['end']}: {summary['n_events']:,} events, "
        f"{summary['n_user_days']:,} user-days, {summary['n_sessions']:,} sessions{note}"
    )


def _table(features: list[FeatureDrift]) -> str:
    head = (
        "<tr><th>feature</th><th>what it is</th><th>method</th><th>score</th>"
        "<th>threshold</th><th>noise</th><th>drifted</th><th>JS</th><th>Wasserstein</th>"
        "<th>mean ref → cur</th></tr>"
    )
    rows = []
    for f in features:
        description = _describe(f)
        means = ""
        if f.extra.get("ref_mean") is not None and f.extra.get("cur_mean") is not None:
            means = f"{f.extra['ref_mean']:.3g} → {f.extra['cur_mean']:.3g}"
        rows.append(
            f'<tr class="{"drifted" if f.drifted else ""}"><td>{html.escape(f.name)}</td>'
            f"<td>{html.escape(description)}</td><td>{html.escape(f.method)}</td>"
            f'<td class="num">{f.score:.4f}</td><td class="num">{f.threshold:.4f}</td>'
            f'<td class="num">{_number(f.extra.get("noise_psi"))}</td>'
            f"<td>{'yes' if f.drifted else 'no'}</td>"
            f'<td class="num">{_number(f.extra.get("js"))}</td>'
            f'<td class="num">{_number(f.extra.get("wasserstein"))}</td>'
            f'<td class="num">{html.escape(means)}</td></tr>'
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _describe(f: FeatureDrift) -> str:
    """What the feature is, plus what moved for categorical and transition features."""
    if f.kind == "mix":
        what = _MIX_DESCRIPTIONS.get(f.name, "share of events per category")
        text = f"{what}; new: " + (", ".join(f.extra["unseen"]) or "none")
        if f.extra.get("vanished"):
            text += "; gone: " + ", ".join(f.extra["vanished"])
        return text
    text = USER_DAY_FEATURES.get(f.name) or _SEQUENCE_DESCRIPTIONS.get(f.name, "")
    if f.name.startswith("next_after_"):
        text = f"P(next event | {f.name.removeprefix('next_after_')}) within sessions"
    elif f.name == "session_first_event":
        text = "the first event of a session"
    moved = f.extra.get("moved")
    if isinstance(moved, list) and moved:
        top = moved[0]
        text += (
            f"; most moved: {top['source']} → {top['target']} "
            f"{top['ref_p']:.0%} → {top['cur_p']:.0%}"
        )
    return text


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


# --------------------------------------------------------------------------------------- plots


def _figure(width: float, height: float) -> Any:
    """A matplotlib Figure drawn by the Agg canvas: no pyplot, no global backend state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def _histograms(profile: Profile) -> dict[str, Histogram]:
    return {
        **profile.features,
        "session_length": profile.session_length,
        "inter_event_gap": profile.inter_event_gap,
    }


def _bin_labels(h: Histogram) -> list[str]:
    e = [f"{x:.3g}" for x in h.edges]
    if not e:
        return ["all"]
    return [f"≤{e[0]}", *(f"({a}, {b}]" for a, b in pairwise(e)), f">{e[-1]}"]


def _histogram_figure(result: DriftResult, reference: Profile, current: Profile) -> bytes | None:
    ref_h, cur_h = _histograms(reference), _histograms(current)
    names = [f.name for f in result.features if f.name in ref_h and f.name in cur_h]
    names = names[:TOP_HISTOGRAMS]
    if not names:
        return None
    scores = {f.name: f for f in result.features}
    cols = 2
    rows = (len(names) + cols - 1) // cols
    fig = _figure(12, 3.2 * rows)
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        ref, cur = ref_h[name], cur_h[name]
        labels = _bin_labels(ref)
        r, c = list(ref.counts), list(cur.counts)
        if ref.missing or cur.missing:
            labels, r, c = [*labels, "n/a"], [*r, ref.missing], [*c, cur.missing]
        x = np.arange(len(labels))
        ax.bar(x - 0.2, np.divide(r, max(sum(r), 1)), 0.4, label="reference", color="#7f8c8d")
        ax.bar(x + 0.2, np.divide(c, max(sum(c), 1)), 0.4, label="current", color="#e67e22")
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
        f = scores[name]
        ax.set_title(f"{name}: PSI {f.score:.3f}{' (drifted)' if f.drifted else ''}", fontsize=9)
        ax.set_ylabel("share", fontsize=8)
        if i == 0:
            ax.legend(fontsize=7)
    return _png(fig)


def _mix_figure(reference: Profile, current: Profile) -> bytes | None:
    dims = sorted(set(reference.mix) | set(current.mix))
    if not dims:
        return None
    fig = _figure(12, 3.5)
    for i, dim in enumerate(dims):
        ax = fig.add_subplot(1, len(dims), i + 1)
        ref, cur = reference.mix.get(dim, {}), current.mix.get(dim, {})
        cats = sorted(set(ref) | set(cur))
        r = np.array([ref.get(c, 0) for c in cats], dtype=float)
        c = np.array([cur.get(c, 0) for c in cats], dtype=float)
        y = np.arange(len(cats))
        ax.barh(y + 0.2, r / max(r.sum(), 1), 0.4, label="reference", color="#7f8c8d")
        ax.barh(y - 0.2, c / max(c.sum(), 1), 0.4, label="current", color="#e67e22")
        ax.set_yticks(y, cats, fontsize=7)
        ax.set_title(dim, fontsize=9)
        ax.set_xlabel("share of events", fontsize=8)
        if i == 0:
            ax.legend(fontsize=7)
    return _png(fig)


def _transition_figure(reference: Profile, current: Profile) -> bytes | None:
    sources, targets = transition_states(reference, current)
    if not sources or not targets:
        return None
    diff = transition_probabilities(current.transitions, sources, targets)
    diff = diff - transition_probabilities(reference.transitions, sources, targets)
    fig = _figure(1.5 + 0.7 * len(targets), 1.2 + 0.45 * len(sources))
    ax = fig.add_subplot(1, 1, 1)
    limit = max(float(np.abs(diff).max()), 0.05)
    image = ax.imshow(diff, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(np.arange(len(targets)), targets, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(np.arange(len(sources)), sources, fontsize=7)
    ax.set_xlabel("next event", fontsize=8)
    ax.set_ylabel("event", fontsize=8)
    for (i, j), value in np.ndenumerate(diff):
        if abs(value) >= 0.01:
            color = "white" if abs(value) > 0.6 * limit else "black"
            ax.text(j, i, f"{value:+.2f}", ha="center", va="center", fontsize=6, color=color)
    fig.colorbar(image, ax=ax, label="Δ probability")
    return _png(fig)
