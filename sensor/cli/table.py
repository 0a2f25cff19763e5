"""Plain-text tables for the terminal: what workload-list, doctor, status and top print."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def table_lines(rows: Sequence[Sequence[str]], right: Collection[int] = ()) -> list[str]:
    """Each row as a line: columns two spaces apart, each as wide as its widest cell, the columns
    in ``right`` (numbers) aligned right; no trailing blanks."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in rows
    ]


def table_text(rows: Sequence[Sequence[str]], right: Collection[int] = ()) -> str:
    """:func:`table_lines` as one string."""
    return "\n".join(table_lines(rows, right))
