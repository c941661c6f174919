"""The tables a rotation prints (plugins/module_utils/_rotation/tables.py), read back from its output in either result
format (default JSON or YAML): the plan, one row per user, and the summary, one row per user and per host."""

from __future__ import annotations

import json
import re
from typing import Dict, List, Optional


def _table_line(line: str) -> Optional[List[str]]:
    """The cells of one printed table line (``"| a | b |",`` or ``- '| a | b |'``, coloured or not), None for any other line."""
    text = re.sub(r"^\s*(- )?", "", re.sub(r"\x1b?\[[0-9;]+m", "", line)).rstrip().rstrip(",")  # colours of ansible-runner's stdout
    try:
        if text.startswith("'"):  # YAML: single-quoted, a quote inside doubled
            text = text[1:-1].replace("''", "'")
        elif text.startswith('"'):  # JSON
            text = json.loads(text)
    except ValueError:
        return None
    if not (text.startswith("|") and text.endswith("|")):
        return None
    return [cell.strip() for cell in text.strip("|").split("|")]


def table_rows(output: str, first_column: str, second_column: str) -> List[Dict[str, str]]:
    """Every body row ({column: cell}) of the printed tables whose header starts with these two columns."""
    rows, header = [], None
    for line in output.splitlines():
        cells = _table_line(line)
        if cells is None:
            header = None
            continue
        if cells[:2] == [first_column, second_column]:
            header = cells
        elif header and not set("".join(cells)) <= {"-"}:
            rows.append(dict(zip(header, cells)))
    return rows


def plan_row(output: str, user: str) -> Dict[str, str]:
    """The plan's row of ``user`` (its first cell is the user, with its owner when it has one); {} when none."""
    for row in table_rows(output, "user", "account"):
        if row["user"] == user or row["user"].startswith(f"{user} (owner: "):
            return row
    return {}


def summary_rows(output: str) -> List[Dict[str, str]]:
    """The rows of the summary table (user, host, key before, key after, healthy, what happened)."""
    return table_rows(output, "user", "host")
