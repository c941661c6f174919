# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The access key audit: findings from an account's keys and the key ids hosts hold, and the
Markdown and HTML renderings of those findings.

Plain functions over plain data, used by the ``rotor.iam.audit_*`` filters and the ``rotor.iam.audit``
role. Inputs are what ``rotor.iam.access_key_info`` (``all_users`` or ``user_names``) returns and, per
host, what ``rotor.iam.credentials_file state=read`` returned for each credentials file. Only key ids
ever reach a report; there is no secret in the inputs to leak.
"""

from __future__ import annotations

import html
import json

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import as_datetime
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import utcnow

REPORT_FORMAT_VERSION = 1
DEFAULT_CHART_MAX_KEYS = 200
DEFAULT_MARKDOWN_MAX_ROWS = 100
HISTOGRAM_BIN_DAYS = 30


class AuditInputError(ValueError):
    """The audit's input is not what access_key_info / credentials_file return."""


def _days_since(value, now):
    moment = as_datetime(value)
    return None if moment is None else max(0, (now - moment).days)


# --------------------------------------------------------------------------- hosts


def host_record(facts):
    """One host's audit facts (user and credentials_file read results) as ``user``, ``reachable``, ``files``.

    ``facts`` is ``{"user": str, "unreachable": bool, "results": [credentials_file results]}``. Each file
    is ``{path, access_key_id, exists, error}``; ``error`` says why a reachable host's file could not be read.
    """
    if not isinstance(facts, dict) or "user" not in facts:
        raise AuditInputError(f"a host's audit record must have 'user' and 'results', got {facts!r:.200}")
    results = facts.get("results") or []
    unreachable = bool(facts.get("unreachable")) or any(r.get("unreachable") for r in results if isinstance(r, dict))
    files = []
    for result in results:
        if not isinstance(result, dict):
            continue
        item = result.get("item") if isinstance(result.get("item"), dict) else {}
        path = item.get("path") or result.get("path")
        if result.get("unreachable"):
            files.append({"path": path, "access_key_id": None, "exists": None, "error": "host unreachable"})
        elif "access_key_id" not in result:
            files.append({"path": path, "access_key_id": None, "exists": None, "error": str(result.get("msg") or "could not be read")})
        else:
            files.append({"path": path, "access_key_id": result.get("access_key_id"), "exists": result.get("exists"), "error": None})
    return {"user": facts["user"], "reachable": not unreachable, "files": files}


def collect_hosts(hostvars, host_names, fact="__rotor_audit_host"):
    """``{host: host_record}`` for the hosts in ``host_names`` that recorded ``fact`` (audited hosts)."""
    hosts = {}
    for name in host_names:
        facts = hostvars[name]
        record = facts.get(fact) if hasattr(facts, "get") else None
        if record:
            hosts[name] = host_record(record)
    return hosts


# --------------------------------------------------------------------------- findings


def _key_label(key):
    position = f"#{key['position']}" if key.get("position") else "new"
    return f"{key['user_name']} {key.get('access_key_id') or position}"


def build_audit(key_info, hosts=None, max_age_days=90, unused_days=90, scope="account", now=None):
    """The audit report (a JSON-ready dict) from access_key_info's result and the hosts' records.

    A key is due when Active and at least ``max_age_days`` old; unused when Active and not used for
    ``unused_days`` days (never-used keys count from their creation).
    """
    if not isinstance(key_info, dict) or not isinstance(key_info.get("access_keys"), list):
        raise AuditInputError("the audit needs the registered result of rotor.iam.access_key_info (with access_keys)")
    if int(max_age_days) < 0 or int(unused_days) < 0:
        raise AuditInputError(f"max_age_days and unused_days must be 0 or more, got {max_age_days} and {unused_days}")
    max_age_days, unused_days = int(max_age_days), int(unused_days)
    now = now or utcnow()
    hosts = dict(hosts or {})

    holders = {}  # (user, key id) -> hosts
    for name, record in sorted(hosts.items()):
        for found in record["files"]:
            if found["access_key_id"]:
                holders.setdefault((record["user"], found["access_key_id"]), [])
                if name not in holders[(record["user"], found["access_key_id"])]:
                    holders[(record["user"], found["access_key_id"])].append(name)

    keys = []
    for source in key_info["access_keys"]:
        key = _audit_key(source, now, max_age_days, unused_days)
        key["hosts"] = holders.get((key["user_name"], key["access_key_id"]), []) if key["access_key_id"] else []
        keys.append(key)

    active_by_user = {}
    for key in keys:
        if key["active"]:
            active_by_user.setdefault(key["user_name"], []).append(key)
    two_active = [
        {"user_name": user, "access_keys": [_brief(k) for k in user_keys]}
        for user, user_keys in sorted(active_by_user.items())
        if len(user_keys) >= 2
    ]
    due = sorted((k for k in keys if k["rotation_due"]), key=lambda k: (-k["age_days"], k["user_name"], k["position"] or 0))
    unused = sorted((k for k in keys if k["unused"]), key=lambda k: (-k["idle_days"], k["user_name"], k["position"] or 0))
    host_keys, host_findings = _host_keys(hosts, keys, key_info.get("missing_users") or [])
    users = key_info.get("users") or []
    active_ages = [k["age_days"] for k in keys if k["active"] and k["age_days"] is not None]

    return {
        "format_version": REPORT_FORMAT_VERSION,
        "generated_at": now.replace(microsecond=0).isoformat(),
        "scope": scope,
        "account_id": _account_id(users),
        "policy": {"max_age_days": max_age_days, "unused_days": unused_days},
        "credential_report": {
            "generated_time": key_info.get("report_generated_time"),
            "age_seconds": key_info.get("report_age_seconds"),
            "requested": key_info.get("report_requested"),
        },
        "summary": {
            "users": len(users),
            "users_with_keys": sum(1 for u in users if u.get("access_key_count")),
            "access_keys": len(keys),
            "active_access_keys": sum(1 for k in keys if k["active"]),
            "rotation_due": len(due),
            "unused": len(unused),
            "users_with_two_active_keys": len(two_active),
            "oldest_active_key_days": max(active_ages) if active_ages else None,
            "hosts": len(hosts),
            "hosts_unreachable": sum(1 for r in hosts.values() if not r["reachable"]),
            "host_findings": len(host_findings),
        },
        "access_keys": keys,
        "rotation_due": due,
        "unused": unused,
        "users_with_two_active_keys": two_active,
        "host_keys": host_keys,
        "host_findings": host_findings,
        "hosts": [dict(host=name, **record) for name, record in sorted(hosts.items())],
    }


def _audit_key(source, now, max_age_days, unused_days):
    try:
        user = source["user_name"]
        status = source.get("status") or ("Active" if source.get("active") else "Inactive")
    except (KeyError, TypeError) as exc:
        raise AuditInputError(f"an access key entry lacks {exc}: {source!r:.200}") from exc
    created = source.get("create_date") or source.get("last_rotated")
    age = source.get("age_days")
    if age is None:
        age = _days_since(created, now)
    active = status == "Active"
    since_use = _days_since(source.get("last_used_date"), now)
    idle = age if since_use is None else since_use
    return {
        "user_name": user,
        "position": source.get("position"),
        "access_key_id": source.get("access_key_id"),
        "status": status,
        "active": active,
        "create_date": created,
        "age_days": age,
        "last_used_date": source.get("last_used_date"),
        "last_used_service": source.get("last_used_service"),
        "last_used_region": source.get("last_used_region"),
        "days_since_last_use": since_use,
        "idle_days": idle,
        "rotation_due": active and age is not None and age >= max_age_days,
        "unused": active and idle is not None and idle >= unused_days,
    }


def _brief(key):
    return {k: key[k] for k in ("position", "access_key_id", "age_days", "last_used_date")}


def _account_id(users):
    for user in users:
        arn = user.get("arn") or ""
        parts = arn.split(":")
        if len(parts) > 4 and parts[4]:
            return parts[4]
    return None


def _finding(host, user, path, problem, access_key_id=None):
    return {"host": host, "user": user, "access_key_id": access_key_id, "path": path, "problem": problem}


def _host_key_row(row):
    return [row["user_name"], row["access_key_id"], row["status"], row["age_days"], _yes_no(row["rotation_due"]), _hosts_cell(row["hosts"])]


def _host_keys(hosts, keys, missing_users):
    """Per user that hosts use: each key id held, its IAM state and the hosts; and the problems found."""
    by_id = {(k["user_name"], k["access_key_id"]): k for k in keys if k["access_key_id"]}
    rows = {}
    findings = []
    for name, record in sorted(hosts.items()):
        user = record["user"]
        if not record["reachable"]:
            findings.append(_finding(name, user, None, "unreachable: its credentials files were not read"))
            continue
        for found in record["files"]:
            key_id = found["access_key_id"]
            if found["error"]:
                findings.append(_finding(name, user, found["path"], f"file could not be read: {found['error']}"))
                continue
            if not key_id:
                findings.append(_finding(name, user, found["path"], "holds no access key (file, profile or entry missing)"))
                continue
            key = by_id.get((user, key_id))
            row = rows.setdefault((user, key_id), {
                "user_name": user,
                "access_key_id": key_id,
                "status": key["status"] if key else ("user does not exist" if user in missing_users else "not a key of this user"),
                "age_days": key["age_days"] if key else None,
                "rotation_due": key["rotation_due"] if key else None,
                "last_used_date": key["last_used_date"] if key else None,
                "hosts": [],
            })
            if name not in row["hosts"]:
                row["hosts"].append(name)
            if user in missing_users:
                problem = f"uses IAM user {user}, which does not exist"
            elif key is None:
                problem = f"holds {key_id}, which is not an access key of {user} (deleted, or another user's)"
            elif not key["active"]:
                problem = f"holds {key_id}, which is {key['status']}"
            elif key["rotation_due"]:
                problem = f"holds {key_id}, which is due for rotation ({key['age_days']} days old)"
            else:
                continue
            findings.append(_finding(name, user, found["path"], problem, key_id))
    return sorted(rows.values(), key=lambda r: (r["user_name"], r["access_key_id"])), findings


# --------------------------------------------------------------------------- JSON and Markdown


FORMATS = ("json", "md", "html")


def render_all(report, chart_max_keys=DEFAULT_CHART_MAX_KEYS, markdown_max_rows=DEFAULT_MARKDOWN_MAX_ROWS, formats=FORMATS):
    """What the role needs from one pass: the headline parts of the report and the documents in ``formats``.

    Rendering here, once, keeps the large report out of Ansible's variables (slow to template).
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise AuditInputError(f"unknown report format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    renderers = {
        "json": lambda: render_json(report),
        "md": lambda: render_markdown(report, max_rows=markdown_max_rows),
        "html": lambda: render_html(report, chart_max_keys=chart_max_keys),
    }
    return {
        "summary": report["summary"],
        "policy": report["policy"],
        "credential_report": report["credential_report"],
        "rotation_due": [
            dict(
                {k: key[k] for k in ("user_name", "position", "access_key_id", "age_days")},
                label=f"{key['user_name']} {key['access_key_id'] or 'key ' + str(key['position'])} ({key['age_days']} days)",
            )
            for key in report["rotation_due"]
        ],
        "host_findings": report["host_findings"],
        "documents": {name: renderers[name]() for name in formats},
    }


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=False) + "\n"


def duration(seconds):
    """A report age for people: seconds, minutes, hours or days."""
    seconds = int(seconds)
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"


def _md(value):
    text = "—" if value is None or value == "" else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(headers, rows, max_rows):
    if not rows:
        return "None.\n"
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows[:max_rows]:
        lines.append("| " + " | ".join(_md(cell) for cell in row) + " |")
    if len(rows) > max_rows:
        lines.append(f"\n… and {len(rows) - max_rows} more in the JSON report.")
    return "\n".join(lines) + "\n"


def _key_id_cell(key):
    return key.get("access_key_id") or f"(position {key.get('position') or '?'})"


def _date(value):
    return value[:10] if value else "never"


def _hosts_cell(hosts):
    return ", ".join(hosts) if hosts else ""


def render_markdown(report, max_rows=DEFAULT_MARKDOWN_MAX_ROWS):
    """A Markdown summary: headline numbers and the tables of findings (each cut at ``max_rows``)."""
    s = report["summary"]
    policy = report["policy"]
    cr = report["credential_report"]
    out = [
        "# IAM access key audit",
        "",
        f"Generated {report['generated_at']} for account {report['account_id'] or 'unknown'} "
        f"(scope: {report['scope']}); credential report of {cr['generated_time'] or 'unknown'}"
        + (f", {duration(cr['age_seconds'])} old" if cr.get("age_seconds") is not None else "")
        + ".",
        "",
        f"Policy: rotate Active keys at {policy['max_age_days']} days; flag Active keys unused for {policy['unused_days']} days.",
        "",
        "| Measure | Count |",
        "|---|---|",
        f"| Users | {s['users']} ({s['users_with_keys']} with keys) |",
        f"| Access keys | {s['access_keys']} ({s['active_access_keys']} Active) |",
        f"| Due for rotation | {s['rotation_due']} |",
        f"| Unused for {policy['unused_days']}+ days | {s['unused']} |",
        f"| Users with two Active keys | {s['users_with_two_active_keys']} |",
        f"| Oldest Active key | {_md(s['oldest_active_key_days'])} days |",
        f"| Hosts audited | {s['hosts']} ({s['hosts_unreachable']} unreachable) |",
        f"| Host findings | {s['host_findings']} |",
        "",
        f"## Keys due for rotation ({s['rotation_due']})",
        "",
        _md_table(
            ["User", "Key", "Age (days)", "Last used", "Hosts"],
            [[k["user_name"], _key_id_cell(k), k["age_days"], _date(k["last_used_date"]), _hosts_cell(k["hosts"])] for k in report["rotation_due"]],
            max_rows,
        ),
        f"## Keys unused for {policy['unused_days']} days or more ({s['unused']})",
        "",
        _md_table(
            ["User", "Key", "Age (days)", "Last used", "Idle (days)"],
            [[k["user_name"], _key_id_cell(k), k["age_days"], _date(k["last_used_date"]), k["idle_days"]] for k in report["unused"]],
            max_rows,
        ),
        f"## Users with two Active keys ({s['users_with_two_active_keys']})",
        "",
        _md_table(
            ["User", "Keys (age in days)"],
            [[u["user_name"], ", ".join(f"{_key_id_cell(k)} ({k['age_days']})" for k in u["access_keys"])] for u in report["users_with_two_active_keys"]],
            max_rows,
        ),
        f"## Keys held by hosts ({len(report['host_keys'])})",
        "",
        _md_table(
            ["User", "Key", "Status", "Age (days)", "Due", "Hosts"],
            [_host_key_row(r) for r in report["host_keys"]],
            max_rows,
        ),
        f"## Host findings ({s['host_findings']})",
        "",
        _md_table(
            ["Host", "User", "File", "Finding"],
            [[f["host"], f["user"], f.get("path"), f["problem"]] for f in report["host_findings"]],
            max_rows,
        ),
    ]
    return "\n".join(out)


def _yes_no(value):
    if value is None:
        return None
    return "yes" if value else "no"


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#1d2430;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #dde2ea;padding-bottom:.2em}
.meta{color:#5b6575}.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}
.card{border:1px solid #dde2ea;border-radius:6px;padding:.5em .9em;min-width:8em}
.card .n{font-size:1.6em;font-weight:600;display:block}.card.bad .n{color:#c0392b}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border-bottom:1px solid #e8ecf2;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f4f6f9}td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.95em}
svg text{font:11px system-ui,sans-serif;fill:#1d2430}.due{fill:#d9534f}.ok{fill:#4a90d9}.inactive{fill:#b8c0cc}
.policy{stroke:#c0392b;stroke-width:2;stroke-dasharray:5 3}.axis{stroke:#8a94a3}.grid{stroke:#e8ecf2}
.note{color:#5b6575;font-style:italic}
"""


def _e(value):
    return html.escape("" if value is None else str(value), quote=True)


def _html_table(headers, rows, numeric=()):
    if not rows:
        return '<p class="note">None.</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _scale_max(ages, max_age_days):
    """The chart's right edge, in days: past the oldest key and the policy line, on a round number."""
    top = max([max_age_days] + [a for a in ages if a is not None] + [1])
    step = 30 if top <= 360 else 90
    return int((top * 1.05 // step + 1) * step)


def _ticks(scale_max):
    step = 30 if scale_max <= 360 else 90
    return list(range(0, scale_max + 1, step))


def age_chart_svg(keys, max_age_days, max_keys=DEFAULT_CHART_MAX_KEYS):
    """Horizontal bars, oldest first: one per key, its age in days written at its end, and a dashed
    policy line at ``max_age_days``. Returns ``(svg, drawn, total)``."""
    ordered = sorted((k for k in keys if k["age_days"] is not None), key=lambda k: (-k["age_days"], k["user_name"], k["position"] or 0))
    drawn = ordered[:max_keys]
    label_w, plot_w, bar_h, gap, top, bottom = 230, 600, 14, 4, 48, 30
    scale = _scale_max([k["age_days"] for k in drawn], max_age_days)
    height = top + bottom + max(1, len(drawn)) * (bar_h + gap)
    width = label_w + plot_w + 70

    def x(days):
        return label_w + plot_w * days / scale

    parts = [
        f'<svg id="key-age-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Access key ages in days against the {max_age_days}-day policy" '
        f'data-max-age-days="{max_age_days}" data-scale-max-days="{scale}" data-plot-x="{label_w}" data-plot-width="{plot_w}">'
    ]
    for tick in _ticks(scale):
        parts.append(f'<line class="grid" x1="{x(tick):.1f}" y1="{top - 4}" x2="{x(tick):.1f}" y2="{height - bottom}"/>')
        parts.append(f'<text class="tick" x="{x(tick):.1f}" y="{height - bottom + 14}" text-anchor="middle">{tick}</text>')
        if len(drawn) > 20:  # a tall chart gets its scale on top too
            parts.append(f'<text class="tick" x="{x(tick):.1f}" y="{top - 8}" text-anchor="middle">{tick}</text>')
    parts.append(f'<text x="{label_w + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle">age in days</text>')
    for index, key in enumerate(drawn):
        y = top + index * (bar_h + gap)
        css = "due" if key["rotation_due"] else ("ok" if key["active"] else "inactive")
        bar_w = max(1.0, x(key["age_days"]) - label_w)
        label = _key_label(key)
        parts.append(
            f'<g class="key" data-user="{_e(key["user_name"])}" data-position="{_e(key["position"])}" '
            f'data-access-key-id="{_e(key["access_key_id"])}" data-age-days="{key["age_days"]}" data-status="{_e(key["status"])}" '
            f'data-rotation-due="{"true" if key["rotation_due"] else "false"}">'
            f'<text class="key-label" x="{label_w - 6}" y="{y + bar_h - 3}" text-anchor="end">{_e(label)}</text>'
            f'<rect class="bar {css}" x="{label_w}" y="{y}" width="{bar_w:.1f}" height="{bar_h}">'
            f'<title>{_e(label)}: {key["age_days"]} days ({_e(key["status"])})</title></rect>'
            f'<text class="age-label" x="{label_w + bar_w + 4:.1f}" y="{y + bar_h - 3}">{key["age_days"]} d</text></g>'
        )
    px = x(max_age_days)
    parts.append(f'<line id="policy-line" class="policy" x1="{px:.1f}" y1="{top - 20}" x2="{px:.1f}" y2="{height - bottom}" data-days="{max_age_days}"/>')
    parts.append(f'<text id="policy-label" x="{px:.1f}" y="{top - 24}" text-anchor="middle" fill="#c0392b">policy: {max_age_days} days</text>')
    parts.append("</svg>")
    return "".join(parts), len(drawn), len(ordered)


def age_histogram_svg(keys, max_age_days, bin_days=HISTOGRAM_BIN_DAYS):
    """Active keys per age band of ``bin_days``; bars at or past the policy are red; counts on top."""
    ages = [k["age_days"] for k in keys if k["active"] and k["age_days"] is not None]
    bins = max(1, (max(ages + [max_age_days]) // bin_days) + 1)
    counts = [0] * bins
    for age in ages:
        counts[age // bin_days] += 1
    left, plot_w, plot_h, top, bottom = 40, 760, 160, 24, 34
    bar_w = plot_w / bins
    peak = max(counts + [1])
    width, height = left + plot_w + 20, top + plot_h + bottom
    parts = [
        f'<svg id="age-histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="Active access keys per {bin_days}-day age band" data-bin-days="{bin_days}" data-max-age-days="{max_age_days}">'
    ]
    parts.append(f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>')
    for index, count in enumerate(counts):
        low = index * bin_days
        h = plot_h * count / peak
        x = left + index * bar_w
        css = "due" if low + bin_days > max_age_days else "ok"  # the band holds keys at or past the policy
        parts.append(
            f'<g class="band" data-from-days="{low}" data-to-days="{low + bin_days - 1}" data-count="{count}">'
            f'<rect class="{css}" x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(1.0, bar_w - 2):.1f}" height="{h:.1f}"/>'
            f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle">{count}</text>'
            f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 13}" text-anchor="middle">{low}–{low + bin_days - 1}</text></g>'
        )
    px = left + plot_w * max_age_days / (bins * bin_days)
    parts.append(f'<line class="policy" x1="{px:.1f}" y1="{top - 6}" x2="{px:.1f}" y2="{top + plot_h}"/>')
    parts.append(f'<text x="{px - 4:.1f}" y="{top - 9}" text-anchor="end" fill="#c0392b">policy: {max_age_days} days</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 3}" text-anchor="middle">age band (days) of Active keys</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report, chart_max_keys=DEFAULT_CHART_MAX_KEYS):
    """A self-contained HTML page (inline CSS and SVG; no script, no network) with the charts and tables."""
    s = report["summary"]
    policy = report["policy"]
    cr = report["credential_report"]
    chart, drawn, total = age_chart_svg(report["access_keys"], policy["max_age_days"], chart_max_keys)
    cards = [
        ("users", "Users", s["users"], False),
        ("access_keys", "Access keys", s["access_keys"], False),
        ("active_access_keys", "Active keys", s["active_access_keys"], False),
        ("rotation_due", "Due for rotation", s["rotation_due"], s["rotation_due"] > 0),
        ("unused", f"Unused {policy['unused_days']}+ days", s["unused"], s["unused"] > 0),
        ("users_with_two_active_keys", "Users with 2 Active keys", s["users_with_two_active_keys"], False),
        ("hosts", "Hosts audited", s["hosts"], False),
        ("host_findings", "Host findings", s["host_findings"], s["host_findings"] > 0),
    ]
    card_html = "".join(
        f'<div class="card{" bad" if bad else ""}" data-metric="{name}"><span class="n">{_e(value)}</span>{_e(label)}</div>'
        for name, label, value, bad in cards
    )
    note = (
        f'<p class="note">The {drawn} oldest of {total} keys are drawn; all are in the tables below and in the JSON report.</p>'
        if drawn < total
        else ""
    )
    sections = [
        f"<h2>Keys due for rotation ({s['rotation_due']})</h2>",
        _html_table(
            ["User", "Key", "Status", "Age (days)", "Created", "Last used", "Service", "Region", "Hosts"],
            [
                [k["user_name"], _key_id_cell(k), k["status"], k["age_days"], _date(k["create_date"]), _date(k["last_used_date"]),
                 k["last_used_service"], k["last_used_region"], _hosts_cell(k["hosts"])]
                for k in report["rotation_due"]
            ],
            numeric=(3,),
        ),
        f"<h2>Keys unused for {policy['unused_days']} days or more ({s['unused']})</h2>",
        _html_table(
            ["User", "Key", "Age (days)", "Last used", "Idle (days)", "Hosts"],
            [[k["user_name"], _key_id_cell(k), k["age_days"], _date(k["last_used_date"]), k["idle_days"], _hosts_cell(k["hosts"])] for k in report["unused"]],
            numeric=(2, 4),
        ),
        f"<h2>Users with two Active keys ({s['users_with_two_active_keys']})</h2>",
        _html_table(
            ["User", "Keys (age in days)"],
            [[u["user_name"], ", ".join(f"{_key_id_cell(k)} ({k['age_days']})" for k in u["access_keys"])] for u in report["users_with_two_active_keys"]],
        ),
        f"<h2>Keys held by hosts ({len(report['host_keys'])})</h2>",
        _html_table(
            ["User", "Key", "Status", "Age (days)", "Due", "Hosts"],
            [_host_key_row(r) for r in report["host_keys"]],
            numeric=(3,),
        ),
        f"<h2>Host findings ({s['host_findings']})</h2>",
        _html_table(["Host", "User", "File", "Finding"], [[f["host"], f["user"], f.get("path"), f["problem"]] for f in report["host_findings"]]),
        f"<h2>All access keys ({s['access_keys']})</h2>",
        "<details><summary>Show every key</summary>",
        _html_table(
            ["User", "Key", "Status", "Age (days)", "Last used", "Due", "Unused"],
            [
                [k["user_name"], _key_id_cell(k), k["status"], k["age_days"], _date(k["last_used_date"]), _yes_no(k["rotation_due"]), _yes_no(k["unused"])]
                for k in report["access_keys"]
            ],
            numeric=(3,),
        ),
        "</details>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>IAM access key audit {_e(report['account_id'] or '')} {_e(report['generated_at'][:10])}</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>IAM access key audit</h1>"
        f'<p class="meta">Account {_e(report["account_id"] or "unknown")} · scope {_e(report["scope"])} · generated {_e(report["generated_at"])} · '
        f'credential report of {_e(cr["generated_time"] or "unknown")}'
        + (f' ({_e(duration(cr["age_seconds"]))} old)' if cr.get("age_seconds") is not None else "")
        + f' · policy: rotate at {policy["max_age_days"]} days, flag unused at {policy["unused_days"]} days</p>'
        f'<div class="cards">{card_html}</div>'
        f"<h2>Active keys by age</h2><figure>{age_histogram_svg(report['access_keys'], policy['max_age_days'])}</figure>"
        f"<h2>Key ages against the {policy['max_age_days']}-day policy</h2>{note}<figure>{chart}</figure>"
        + "".join(sections)
        + "</body></html>\n"
    )
