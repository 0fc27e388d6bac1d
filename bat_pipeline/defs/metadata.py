"""Small formatters that turn results into Dagster metadata a person reads at a glance."""

from collections.abc import Mapping, Sequence

import dagster as dg


def reasons_table(reasons: Mapping[str, int]) -> str:
    """Markdown table of quarantine reasons and row counts (most frequent first)."""
    if not reasons:
        return "no rows quarantined"
    rows = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    return "| reason | rows |\n|---|---:|\n" + "\n".join(f"| {r} | {n} |" for r, n in rows)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table; floats are shown with 4 decimals."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return "—" if value is None else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def rounded(value: float | None) -> dg.FloatMetadataValue:
    """A metric rounded to 4 decimals for reading (Dagster still plots it over time)."""
    return dg.FloatMetadataValue(None if value is None else round(float(value), 4))
