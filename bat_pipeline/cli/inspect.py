"""`bat-pipeline inspect FILE...`: what a foreign event log holds, and the `data:` block of
bat.yaml that maps it onto the event contract, ready to paste.

The files are only read (in memory): no BAT_HOME is needed and nothing is written.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import date
from pathlib import Path

from bat_pipeline.cli.common import emit
from bat_pipeline.data.ingest import IngestError
from bat_pipeline.data.inspection import inspect_files
from bat_pipeline.data.source_mapping import format_label
from bat_pipeline.errors import EXIT_FAILED, EXIT_OK, UsageError

#: with more days than this, the text lists the first and last few and a summary
DAYS_LISTED = 14
#: event names listed in the text at the most (the JSON has them all)
EVENTS_LISTED = 30


def cmd_inspect(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    folders = [str(p) for p in paths if p.is_dir()]
    if folders:
        raise UsageError(f"{', '.join(folders)}: a folder; name its files (e.g. DIR/*.csv)")
    try:
        result = inspect_files(paths)
    except IngestError as exc:
        sys.stderr.write(f"bat-pipeline inspect: {exc}\n")
        if args.json:
            emit(args, {"error": str(exc), "files": [str(p) for p in paths]}, str)
        return EXIT_FAILED
    emit(args, result.to_dict(), _inspect_text)
    return EXIT_OK


def _inspect_text(p: dict) -> str:
    files = p["files"][0] if len(p["files"]) == 1 else f"{len(p['files'])} files"
    lines = [f"{files}: {p['rows']:,} rows", "columns, as seen in a sample of rows:"]
    lines += [*_columns_text(p), ""]
    if p["time_range"]:
        first, last = (t.replace("T", " ")[:19] for t in p["time_range"])
        lines.append(f"time range (UTC): {first} .. {last}")
    if p["rows_per_day"]:
        lines += _days_text(p["rows_per_day"])
    if p["events"]:
        lines.append(f"events ({len(p['events'])} names):")
        name_width = max(len(n) for n in list(p["events"])[:EVENTS_LISTED])
        for name, n in list(p["events"].items())[:EVENTS_LISTED]:
            target = p["event_map"].get(name)
            mapped = f"-> {target}" if target else "(kept as it is)"
            lines.append(f"  {name:<{name_width}}  {n:>10,}  {mapped}")
        if len(p["events"]) > EVENTS_LISTED:
            lines.append(f"  ... and {len(p['events']) - EVENTS_LISTED} more names (see --json)")
        rejected = sum(p["quarantine"].values())
        lines.append(
            f"with the suggested mapping: {p['rows_loadable']:,} rows would load, "
            f"{rejected:,} would be quarantined"
        )
    lines += [f"note: {note}" for note in p["notes"]]
    lines += ["", "suggested block for bat.yaml:", "", p["suggested_yaml"].rstrip()]
    return "\n".join(lines)


def _columns_text(p: dict) -> list[str]:
    """A table of the columns: the contract column each maps to, kind, time format, how
    filled and varied it is in the sample, examples."""
    role_of = {column: role for role, column in p["roles"].items()}
    rows = [("column", "maps to", "kind", "time format", "filled", "distinct", "examples")]
    for c in p["columns"]:
        examples = ", ".join(c["examples"])
        rows.append(
            (
                c["name"],
                role_of.get(c["name"], "-"),
                c["kind"],
                format_label(c["time_format"]) if c["time_format"] else "-",
                f"{c['filled']:.0%}",
                f"{c['distinct']:,}",
                examples if len(examples) <= 40 else examples[:39] + "…",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    return [
        "  " + "  ".join(f"{v:<{w}}" for v, w in zip(r[:6], widths, strict=True)) + "  " + r[6]
        for r in rows
    ]


def _days_text(per_day: dict[str, int]) -> list[str]:
    """All days when they are few; else the first and last three and the spread per day."""
    days = list(per_day)
    span = (date.fromisoformat(days[-1]) - date.fromisoformat(days[0])).days + 1
    head = f"rows per day (UTC; {len(days)} days with rows over {span} days)"
    if len(days) <= DAYS_LISTED:
        return [f"{head}:"] + [f"  {d}  {n:>10,}" for d, n in per_day.items()]
    counts = list(per_day.values())
    edge = ", ".join(f"{d} {per_day[d]:,}" for d in days[:3])
    tail = ", ".join(f"{d} {per_day[d]:,}" for d in days[-3:])
    return [
        f"{head}: min {min(counts):,} / median {statistics.median(counts):,.0f} / "
        f"max {max(counts):,} per day",
        f"  first: {edge}",
        f"  last:  {tail}",
    ]
