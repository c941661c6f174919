# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The audit report as one self-contained HTML page: inline CSS and SVG charts, no script, no network."""

from __future__ import annotations

import html

from ansible_collections.rotor.iam.plugins.module_utils._audit import cells
from ansible_collections.rotor.iam.plugins.module_utils._audit.sections import ALL_KEYS_HEADERS
from ansible_collections.rotor.iam.plugins.module_utils._audit.sections import all_keys_rows
from ansible_collections.rotor.iam.plugins.module_utils._audit.sections import nothing_line
from ansible_collections.rotor.iam.plugins.module_utils._audit.sections import report_sections
from ansible_collections.rotor.iam.plugins.module_utils._audit.sections import trend_sections

DEFAULT_CHART_MAX_KEYS = 200
HISTOGRAM_BIN_DAYS = 30
HISTOGRAM_MAX_LABELS = 8


def _palette_css():
    fills = "".join(f".{name}{{fill:{colour}}}.swatch.{name}{{background:{colour}}}" for name, colour in cells.STATUS_COLOURS.items())
    return fills + f".policy{{stroke:{cells.STATUS_COLOURS['due']};stroke-width:2;stroke-dasharray:5 3}}"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#1d2430;padding:0 1em;
background:#ffffff}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #dde2ea;padding-bottom:.2em}
.meta{color:#4a5361}.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}
.card{border:1px solid #dde2ea;border-radius:6px;padding:.5em .9em;min-width:8em}
.card .n{font-size:1.6em;font-weight:600;display:block}.card.bad .n{color:#b42318}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border-bottom:1px solid #e8ecf2;padding:.3em .5em;text-align:left;
vertical-align:top;overflow-wrap:anywhere}
th{background:#f4f6f9}td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.9em;overflow-wrap:anywhere}
figure{margin:1em 0}svg{max-width:100%;height:auto;display:block}svg text{font:11px system-ui,sans-serif;fill:#1d2430}
.axis{stroke:#5d6b7e}.grid{stroke:#e8ecf2}
.legend{display:flex;flex-wrap:wrap;gap:1em;margin:.4em 0;padding:0;list-style:none}
.swatch{display:inline-block;width:.9em;height:.9em;margin-right:.35em;vertical-align:-.1em;border-radius:2px}
.note{color:#4a5361;font-style:italic}.nothing{color:#4a5361}
@media print{
body{max-width:none;margin:0;padding:0;font-size:10pt}
.cards{gap:.3em}.card{padding:.2em .5em}
h2{break-after:avoid}tr,figure,.card{break-inside:avoid}
details>summary{display:none}details{display:block}details::details-content{display:block;content-visibility:visible}
a{color:inherit;text-decoration:none}
}
"""


def _e(value):
    return html.escape("" if value is None else str(value), quote=True)


def _cell(value, numeric):
    if isinstance(value, cells.Code):
        return f"<td><code>{_e(value)}</code></td>"
    text = cells.word(value)
    return f'<td class="num">{_e(text)}</td>' if numeric else f"<td>{_e(text)}</td>"


def _html_table(headers, rows, numeric=()):
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(_cell(c, i in numeric) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _legend():
    items = "".join(f'<li><span class="swatch {name}" aria-hidden="true"></span>{_e(cells.STATUS_LABELS[name])}</li>'
                    for name in cells.STATUS_COLOURS)
    return f'<ul class="legend" aria-label="Colours of the charts">{items}</ul>'


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
    label_w, plot_w, bar_h, gap, top, bottom = 230, 600, 14, 4, 48, 40
    scale = _scale_max([k["age_days"] for k in drawn], max_age_days)
    height = top + bottom + max(1, len(drawn)) * (bar_h + gap)
    width = label_w + plot_w + 70

    def x(days):
        return label_w + plot_w * days / scale

    parts = [
        f'<svg id="key-age-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="key-age-chart-title" '
        f'data-max-age-days="{max_age_days}" data-scale-max-days="{scale}" data-plot-x="{label_w}" data-plot-width="{plot_w}">'
        f'<title id="key-age-chart-title">Ages in days of the {len(drawn)} oldest access keys against the {max_age_days}-day policy: '
        f'{sum(1 for k in drawn if k["rotation_due"])} due for rotation</title>'
    ]
    for tick in _ticks(scale):
        parts.append(f'<line class="grid" x1="{x(tick):.1f}" y1="{top - 4}" x2="{x(tick):.1f}" y2="{height - bottom}"/>')
        parts.append(f'<text class="tick" x="{x(tick):.1f}" y="{height - bottom + 14}" text-anchor="middle">{tick}</text>')
        if len(drawn) > 20:  # a tall chart gets its scale on top too
            parts.append(f'<text class="tick" x="{x(tick):.1f}" y="{top - 8}" text-anchor="middle">{tick}</text>')
    parts.append(f'<text x="{label_w + plot_w / 2:.0f}" y="{height - 5}" text-anchor="middle">age in days</text>')
    for index, key in enumerate(drawn):
        y = top + index * (bar_h + gap)
        css = cells.key_status(key)
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
    parts.append(f'<text id="policy-label" x="{px:.1f}" y="{top - 24}" text-anchor="middle">policy: {max_age_days} days</text>')
    parts.append("</svg>")
    return "".join(parts), len(drawn), len(ordered)


def histogram_counts(keys, max_age_days, bin_days=HISTOGRAM_BIN_DAYS):
    """Active keys per age band of ``bin_days``, split by status (due, exempt, ok): ``[{from, to, due, exempt, ok}]``."""
    active = [k for k in keys if k["active"] and k["age_days"] is not None]
    bins = max(1, (max([k["age_days"] for k in active] + [max_age_days]) // bin_days) + 1)
    bands = [{"from": i * bin_days, "to": i * bin_days + bin_days - 1, "due": 0, "exempt": 0, "ok": 0} for i in range(bins)]
    for key in active:
        bands[key["age_days"] // bin_days][cells.key_status(key)] += 1
    return bands


def _label_step(bins, max_labels=HISTOGRAM_MAX_LABELS):
    """Label every n-th band so that at most ``max_labels`` labels share the axis."""
    return max(1, -(-bins // max_labels))


def age_histogram_svg(keys, max_age_days, bin_days=HISTOGRAM_BIN_DAYS):
    """Active keys per age band of ``bin_days``, each bar stacked by status in the report's colours (an exempt
    key is amber here as in the bar chart); the count on top, a label every few bands (never overlapping)."""
    bands = histogram_counts(keys, max_age_days, bin_days)
    bins = len(bands)
    left, plot_w, plot_h, top, bottom = 40, 700, 160, 28, 40
    bar_w = plot_w / bins
    peak = max([b["due"] + b["exempt"] + b["ok"] for b in bands] + [1])
    width, height = left + plot_w + 20, top + plot_h + bottom
    total = sum(b["due"] + b["exempt"] + b["ok"] for b in bands)
    due = sum(b["due"] for b in bands)
    parts = [
        f'<svg id="age-histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="age-histogram-title" data-bin-days="{bin_days}" data-max-age-days="{max_age_days}">'
        f'<title id="age-histogram-title">{total} Active access keys per {bin_days}-day age band; {due} due for rotation</title>'
    ]
    parts.append(f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>')
    step = _label_step(bins)
    for index, band in enumerate(bands):
        count = band["due"] + band["exempt"] + band["ok"]
        x = left + index * bar_w
        parts.append(f'<g class="band" data-from-days="{band["from"]}" data-to-days="{band["to"]}" data-count="{count}">')
        base = top + plot_h
        for status in ("ok", "exempt", "due"):
            if band[status]:
                h = plot_h * band[status] / peak
                base -= h
                parts.append(f'<rect class="{status}" data-status="{status}" data-count="{band[status]}" x="{x + 1:.1f}" y="{base:.1f}" '
                             f'width="{max(1.0, bar_w - 2):.1f}" height="{h:.1f}"><title>{band["from"]}-{band["to"]} days: '
                             f'{band[status]} {_e(cells.STATUS_LABELS[status])}</title></rect>')
        if count:
            parts.append(f'<text class="count" x="{x + bar_w / 2:.1f}" y="{base - 3:.1f}" text-anchor="middle">{count}</text>')
        if index % step == 0:
            parts.append(f'<text class="tick" x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{band["from"]}</text>')
        parts.append("</g>")
    px = left + plot_w * max_age_days / (bins * bin_days)
    parts.append(f'<line class="policy" x1="{px:.1f}" y1="{top - 6}" x2="{px:.1f}" y2="{top + plot_h}"/>')
    anchor = "end" if px > left + plot_w / 2 else "start"
    shift = -4 if anchor == "end" else 4
    parts.append(f'<text x="{px + shift:.1f}" y="{top - 12}" text-anchor="{anchor}">policy: {max_age_days} days</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle">age of Active keys in days '
                 f'(bands of {bin_days})</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bar_title(key, max_age_days):
    parts = [key["status"]]
    if key.get("max_age_days", max_age_days) != max_age_days:
        parts.append(f"own policy {key['max_age_days']} days")
    if key.get("exempt"):
        parts.append("exempt")
    return ", ".join(parts)


def _sections_html(sections):
    parts = []
    for section in sections:
        if section["rows"]:
            parts += [f'<h2 id="{_e(section["id"])}">{_e(section["title"])}</h2>',
                      _html_table(section["headers"], section["rows"], section["numeric"])]
    line = nothing_line(sections)
    if line:
        anchors = "".join(f'<span id="{_e(s["id"])}"></span>' for s in sections if not s["rows"])
        parts.append(f'<p class="nothing" id="nothing-to-report">{anchors}{_e(line)}</p>')
    return parts


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
        ("inactive_access_keys", "Inactive keys to delete", s.get("inactive_access_keys", 0), s.get("inactive_access_keys", 0) > 0),
        ("unused", f"Unused {policy['unused_days']}+ days", s["unused"], s["unused"] > 0),
        ("users_with_two_active_keys", "Users with 2 Active keys", s["users_with_two_active_keys"], False),
        ("exempt_users", "Exempt users", s["exempt_users"], False),
        ("expired_exemptions", "Expired exemptions", s["expired_exemptions"], s["expired_exemptions"] > 0),
        ("policy_problems", "Policy tag problems", s["policy_problems"], s["policy_problems"] > 0),
        ("hosts", "Hosts audited", s["hosts"], False),
        ("host_findings", "Host findings", s["host_findings"], s["host_findings"] > 0),
    ]
    if "newly_due" in s:
        cards.append(("newly_due", "Newly due since the previous report", s["newly_due"], s["newly_due"] > 0))
    card_html = "".join(
        f'<div class="card{" bad" if bad else ""}" data-metric="{name}"><span class="n">{_e(value)}</span>{_e(label)}</div>'
        for name, label, value, bad in cards
    )
    note = ""
    if drawn == 0 and total:  # chart_max_keys 0: say so rather than "the 0 oldest"
        note = f'<p class="note">No key is drawn; all {total} are in the tables below and in the JSON report.</p>'
    elif drawn < total:
        note = f'<p class="note">The {drawn} oldest of {total} keys are drawn; all are in the tables below and in the JSON report.</p>'

    parts = _sections_html(report_sections(report))
    trend = trend_sections(report)
    if trend:
        parts.append(f"<h2 id=\"trend\">Trend since the previous report ({_e(report['trend']['previous_generated_at'])})</h2>")
        for section in trend:
            if section["rows"]:
                parts += [f'<h3 id="{_e(section["id"])}">{_e(section["title"])}</h3>',
                          _html_table(section["headers"], section["rows"], section["numeric"])]
            else:
                parts.append(f'<p class="nothing" id="{_e(section["id"])}">{_e(section["title"].split(" (")[0])}: none.</p>')
    parts += [
        f"<h2 id=\"all-access-keys\">All access keys ({s['access_keys']})</h2>",
        "<details><summary>Show every key</summary>",
        _html_table(ALL_KEYS_HEADERS, all_keys_rows(report), numeric=(3, 5)),
        "</details>",
    ]
    tags = report.get("user_tags") or {}
    tags_meta = (f' · user tags read for {cells.counted(tags["users"], "user")} ({cells.counted(tags["calls"], "ListUserTags call")})'
                 if tags.get("read")
                 else " · user tags not read")
    ids_meta = f" · key ids looked up in {s.get('key_id_calls', 0)} ListAccessKeys calls" if s.get("key_id_calls") else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>IAM access key audit {_e(report['account_id'] or ', '.join(a['account'] for a in report.get('accounts') or []))} "
        f"{_e(report['generated_at'][:10])}</title>"
        f"<style>{_CSS}{_palette_css()}</style></head><body>"
        "<h1>IAM access key audit</h1>"
        f'<p class="meta">{_e(cells.accounts(report).capitalize())} · scope {_e(report["scope"])} · generated {_e(report["generated_at"])} · '
        f'credential report of {_e(cr["generated_time"] or "unknown")}'
        + (f' ({_e(cells.duration(cr["age_seconds"]))} old)' if cr.get("age_seconds") is not None else "")
        + f' · policy: rotate at {policy["max_age_days"]} days, flag unused at {policy["unused_days"]} days'
        + f"{_e(tags_meta)}{_e(ids_meta)}</p>"
        f'<div class="cards">{card_html}</div>'
        + _legend()
        + f"<h2 id=\"active-keys-by-age\">Active keys by age</h2><figure>{age_histogram_svg(report['access_keys'], policy['max_age_days'])}"
        f"<figcaption class=\"note\">{_e(_histogram_caption(report['access_keys'], policy['max_age_days']))}</figcaption></figure>"
        f"<h2 id=\"key-ages\">Key ages against the {policy['max_age_days']}-day policy</h2>{note}"
        f"<figure>{chart}<figcaption class=\"note\">Each bar is a key, labelled with its age in days; the dashed line is the "
        f"{policy['max_age_days']}-day policy. A key due under the user's own policy is coloured due too.</figcaption></figure>"
        + "".join(parts)
        + "</body></html>\n"
    )


def _histogram_caption(keys, max_age_days):
    bands = [b for b in histogram_counts(keys, max_age_days) if b["due"] + b["exempt"] + b["ok"]]
    text = "; ".join(f"{b['from']}-{b['to']} days: {b['due'] + b['exempt'] + b['ok']}" for b in bands)
    return f"Active keys per age band: {text or 'none'}."
