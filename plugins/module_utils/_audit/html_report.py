# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The audit report as one self-contained HTML page: inline CSS and SVG charts, no script, no network."""

from __future__ import annotations

import html

from ansible_collections.rotor.iam.plugins.module_utils._audit import cells
from ansible_collections.rotor.iam.plugins.module_utils._audit.consumers import consumer_tables

DEFAULT_CHART_MAX_KEYS = 200
HISTOGRAM_BIN_DAYS = 30

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#1d2430;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #dde2ea;padding-bottom:.2em}
.meta{color:#5b6575}.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}
.card{border:1px solid #dde2ea;border-radius:6px;padding:.5em .9em;min-width:8em}
.card .n{font-size:1.6em;font-weight:600;display:block}.card.bad .n{color:#c0392b}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border-bottom:1px solid #e8ecf2;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f4f6f9}td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.95em}
svg text{font:11px system-ui,sans-serif;fill:#1d2430}.due{fill:#d9534f}.exempt{fill:#e0a526}.ok{fill:#4a90d9}.inactive{fill:#b8c0cc}
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
        css = "due" if key["rotation_due"] else ("exempt" if key.get("past_max_age") else ("ok" if key["active"] else "inactive"))
        bar_w = max(1.0, x(key["age_days"]) - label_w)
        label = cells.key_label(key)
        parts.append(
            f'<g class="key" data-user="{_e(key["user_name"])}" data-position="{_e(key["position"])}" '
            f'data-access-key-id="{_e(key["access_key_id"])}" data-age-days="{key["age_days"]}" data-status="{_e(key["status"])}" '
            f'data-rotation-due="{"true" if key["rotation_due"] else "false"}" data-exempt="{"true" if key.get("exempt") else "false"}" '
            f'data-key-max-age-days="{_e(key.get("max_age_days", max_age_days))}">'
            f'<text class="key-label" x="{label_w - 6}" y="{y + bar_h - 3}" text-anchor="end">{_e(label)}</text>'
            f'<rect class="bar {css}" x="{label_w}" y="{y}" width="{bar_w:.1f}" height="{bar_h}">'
            f'<title>{_e(label)}: {key["age_days"]} days ({_e(_bar_title(key, max_age_days))})</title></rect>'
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


def _bar_title(key, max_age_days):
    parts = [key["status"]]
    if key.get("max_age_days", max_age_days) != max_age_days:
        parts.append(f"own policy {key['max_age_days']} days")
    if key.get("exempt"):
        parts.append("exempt")
    return ", ".join(parts)


def _host_key_row(row):
    return [row["user_name"], row["access_key_id"], row["status"], row["age_days"], cells.yes_no(row["rotation_due"]),
            cells.hosts(row["hosts"]), row.get("owner")]


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
        ("exempt_users", "Exempt users", s["exempt_users"], False),
        ("expired_exemptions", "Expired exemptions", s["expired_exemptions"], s["expired_exemptions"] > 0),
        ("policy_problems", "Policy tag problems", s["policy_problems"], s["policy_problems"] > 0),
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
    policy_sections = []
    for title, headers, rows, numeric in cells.user_policy_rows(report):
        section_id = title.split(" (", maxsplit=1)[0].lower().replace(" ", "-")
        policy_sections += [f'<h2 id="{_e(section_id)}">{_e(title)}</h2>', _html_table(headers, rows, numeric=numeric)]
    sections = [
        f"<h2>Keys due for rotation ({s['rotation_due']})</h2>",
        _html_table(
            ["User", "Key", "Status", "Age (days)", "Created", "Last used", "Service", "Region", "Hosts", "Policy (days)", "Owner"],
            [
                [k["user_name"], cells.key_id(k), k["status"], k["age_days"], cells.date(k["create_date"]), cells.date(k["last_used_date"]),
                 k["last_used_service"], k["last_used_region"], cells.hosts(k["hosts"]), k["max_age_days"], k["owner"]]
                for k in report["rotation_due"]
            ],
            numeric=(3, 9),
        ),
        f"<h2>Keys unused for {policy['unused_days']} days or more ({s['unused']})</h2>",
        _html_table(
            ["User", "Key", "Age (days)", "Last used", "Idle (days)", "Hosts", "Owner"],
            [[k["user_name"], cells.key_id(k), k["age_days"], cells.date(k["last_used_date"]), k["idle_days"], cells.hosts(k["hosts"]), k["owner"]]
             for k in report["unused"]],
            numeric=(2, 4),
        ),
        f"<h2>Users with two Active keys ({s['users_with_two_active_keys']})</h2>",
        _html_table(
            ["User", "Keys (age in days)", "Owner"],
            [[u["user_name"], cells.keys_with_ages(u["access_keys"]), u["owner"]] for u in report["users_with_two_active_keys"]],
        ),
    ] + policy_sections + [
        f"<h2>Keys held by hosts ({len(report['host_keys'])})</h2>",
        _html_table(
            ["User", "Key", "Status", "Age (days)", "Due", "Hosts", "Owner"],
            [_host_key_row(r) for r in report["host_keys"]],
            numeric=(3,),
        ),
        f"<h2>Host findings ({s['host_findings']})</h2>",
        _html_table(["Host", "User", "File", "Finding", "Owner"],
                    [[f["host"], f["user"], f.get("path"), f["problem"], f.get("owner")] for f in report["host_findings"]]),
        f"<h2>Secret destinations ({len(report.get('destinations') or [])})</h2>",
        _html_table(["User", "Type", "Name", "Key", "Status", "Finding"],
                    [[d["user"], d["type"], d["name"], d["access_key_id"], d["status"], d["finding"]]
                     for d in report.get("destinations") or []]),
    ] + [part for title, headers, rows in consumer_tables(report.get("consumers"))
         for part in (f"<h2>{_e(title)}</h2>", _html_table(headers, rows))] + [
        f"<h2>All access keys ({s['access_keys']})</h2>",
        "<details><summary>Show every key</summary>",
        _html_table(
            ["User", "Key", "Status", "Age (days)", "Last used", "Policy (days)", "Due", "Exempt", "Unused", "Owner"],
            [
                [k["user_name"], cells.key_id(k), k["status"], k["age_days"], cells.date(k["last_used_date"]), k["max_age_days"],
                 cells.yes_no(k["rotation_due"]), cells.yes_no(k["exempt"]), cells.yes_no(k["unused"]), k["owner"]]
                for k in report["access_keys"]
            ],
            numeric=(3, 5),
        ),
        "</details>",
    ]
    tags = report.get("user_tags") or {}
    tags_meta = (f' · user tags read for {tags["users"]} users ({tags["calls"]} ListUserTags calls)' if tags.get("read")
                 else " · user tags not read")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>IAM access key audit {_e(report['account_id'] or ', '.join(a['account'] for a in report.get('accounts') or []))} "
        f"{_e(report['generated_at'][:10])}</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>IAM access key audit</h1>"
        f'<p class="meta">{_e(cells.accounts(report).capitalize())} · scope {_e(report["scope"])} · generated {_e(report["generated_at"])} · '
        f'credential report of {_e(cr["generated_time"] or "unknown")}'
        + (f' ({_e(cells.duration(cr["age_seconds"]))} old)' if cr.get("age_seconds") is not None else "")
        + f' · policy: rotate at {policy["max_age_days"]} days, flag unused at {policy["unused_days"]} days'
        + f"{_e(tags_meta)}</p>"
        f'<div class="cards">{card_html}</div>'
        f"<h2>Active keys by age</h2><figure>{age_histogram_svg(report['access_keys'], policy['max_age_days'])}</figure>"
        f"<h2>Key ages against the {policy['max_age_days']}-day policy</h2>{note}"
        '<p class="note">Red: due for rotation (under the user\'s own policy when it has one); amber: past its policy but the user is exempt.</p>'
        f"<figure>{chart}</figure>"
        + "".join(sections)
        + "</body></html>\n"
    )
