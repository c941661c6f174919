"""Helpers to run ``rotor.iam.audit`` against the test IAM endpoint and to look at what it wrote.

Used by test_audit.py and the benchmarks::

    run = run_audit(endpoint, workdir, inventories=[fleet.inventory_path], extra_vars={...})
    run.returncode, run.calls, run.seconds, run.report()   # the JSON report as a dict
    render_headless(run.html_path)                         # the HTML page's DOM after Chromium rendered it
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Iterable, Optional

from support import PlaybookResult, assert_no_secrets, rotor_vars, run_playbook

PLAYBOOK = "rotor.iam.audit"
from support import PLAYBOOK_TIMEOUT  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
REPORT_NAME = "rotor-iam-audit"
AuditRun = PlaybookResult  # one result class for every run (report(), json_path, markdown_path, html_path)


def run_audit(
    endpoint,
    workdir: Path,
    inventories: Iterable[str] = (),
    extra_vars: Optional[Dict[str, object]] = None,
    check: bool = False,
    verbosity: int = 0,
    label: str = "audit",
    env_extra: Optional[Dict[str, str]] = None,
) -> PlaybookResult:
    """``ansible-playbook rotor.iam.audit`` with the endpoint's admin credentials; reports go to
    ``workdir/<label>-reports`` unless ``extra_vars`` sets rotor_report_dir. The endpoint's call
    counters are reset just before the run and read right after it. ``env_extra`` is added to the
    playbook's environment (e.g. AWS_CONFIG_FILE with profiles for other accounts)."""
    workdir = Path(workdir)
    variables: Dict[str, object] = dict(rotor_vars(endpoint), rotor_report_dir=str(workdir / f"{label}-reports"))
    variables.update(extra_vars or {})
    report_dir = Path(str(variables["rotor_report_dir"]))
    if not report_dir.is_absolute():
        report_dir = workdir / report_dir
    # The endpoint only through rotor_aws_endpoint_url, as a user gives it: none in the environment.
    return run_playbook(PLAYBOOK, workdir, endpoint=endpoint, endpoint_in_env=False, inventories=inventories, extra_vars=variables,
                        check=check, diff=check, verbosity=verbosity, label=label, env_extra=env_extra, log=False,
                        report_dir=report_dir, timeout=PLAYBOOK_TIMEOUT)


def assert_no_secrets_in(run: PlaybookResult, secrets: Iterable[str]) -> None:
    """No secret appears in the run's output, in any report it wrote or in its TMPDIR (names lines, never the secret)."""
    assert_no_secrets(run, list(secrets))


def chromium() -> Optional[str]:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


# Appended to a copy of the page: measures what the browser laid out and writes it into the DOM.
MEASURE_SCRIPT = """
<script>
(function () {
  var chart = document.getElementById('key-age-chart');
  var plot = chart.getBoundingClientRect();
  var scale = chart.width.baseVal.value / plot.width;
  var out = {bars: [], policy: null, chartWidth: plot.width};
  chart.querySelectorAll('g.key').forEach(function (g) {
    var bar = g.querySelector('rect.bar').getBoundingClientRect();
    out.bars.push({age: Number(g.dataset.ageDays), user: g.dataset.user, label: g.querySelector('.age-label').textContent,
                   left: (bar.left - plot.left) * scale, width: bar.width * scale,
                   visible: bar.width > 0 && bar.height > 0});
  });
  var line = document.getElementById('policy-line').getBoundingClientRect();
  out.policy = {x: (line.left + line.width / 2 - plot.left) * scale, label: document.getElementById('policy-label').textContent};
  var pre = document.createElement('pre');
  pre.id = 'rotor-measure';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def render_headless(html_path: Path, workdir: Path, timeout: float = 90) -> str:
    """The DOM of ``html_path`` after Chromium rendered it headless, with MEASURE_SCRIPT's findings
    in ``<pre id="rotor-measure">``. The report itself has no script; a measured copy is rendered."""
    browser = chromium()
    if browser is None:
        raise FileNotFoundError("chromium is not installed (scripts/test.sh installs it)")
    page = Path(html_path).read_text()
    measured = Path(workdir) / "measured.html"
    measured.write_text(page.replace("</body>", MEASURE_SCRIPT + "</body>"))
    profile = Path(workdir) / "chromium-profile"
    completed = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",  # root on our machines
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--window-size=1280,1024",
            f"--user-data-dir={profile}",
            "--dump-dom",
            measured.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0 or "rotor-measure" not in completed.stdout:
        raise RuntimeError(f"chromium exited {completed.returncode}: {completed.stderr[-2000:]}")
    return completed.stdout


def measurements(dom: str) -> Dict:
    import html
    import re

    found = re.search(r'<pre id="rotor-measure">(.*?)</pre>', dom, re.S)
    return json.loads(html.unescape(found.group(1)))


# Appended to a copy of the page: the layout as laid out at the window's width, for layout and accessibility checks.
LAYOUT_SCRIPT = """
<script>
(function () {
  var width = document.documentElement.clientWidth;
  var out = {viewport: width, scrollWidth: document.documentElement.scrollWidth, overflowing: [], overlaps: [], charts: [],
             headers: [], fills: {}, background: getComputedStyle(document.body).backgroundColor, sections: []};
  document.querySelectorAll('body *').forEach(function (el) {
    if (el.closest('details:not([open])') || el.closest('svg') && el.tagName.toLowerCase() !== 'svg') { return; }
    var r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > width + 0.5 || r.left < -0.5)) {
      out.overflowing.push({tag: el.tagName.toLowerCase(), id: el.id, right: r.right});
    }
  });
  document.querySelectorAll('svg').forEach(function (svg) {
    var named = svg.getAttribute('aria-labelledby');
    var title = named ? document.getElementById(named) : null;
    var box = svg.getBoundingClientRect();
    out.charts.push({id: svg.id, role: svg.getAttribute('role'), name: title ? title.textContent : (svg.getAttribute('aria-label') || ''),
                     left: box.left, right: box.right, width: box.width});
    var texts = Array.prototype.map.call(svg.querySelectorAll('text'), function (t) {
      return {text: t.textContent, r: t.getBoundingClientRect()};
    }).filter(function (t) { return t.r.width > 0; });
    for (var i = 0; i < texts.length; i++) {
      for (var j = i + 1; j < texts.length; j++) {
        var a = texts[i].r, b = texts[j].r;
        var dx = Math.min(a.right, b.right) - Math.max(a.left, b.left), dy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (dx > 0.5 && dy > 0.5 && out.overlaps.length < 20) {
          out.overlaps.push({chart: svg.id, a: texts[i].text, b: texts[j].text});
        }
      }
    }
    svg.querySelectorAll('[data-status]').forEach(function (shape) {
      out.fills[shape.getAttribute('data-status')] = getComputedStyle(shape).fill;
    });
    svg.querySelectorAll('rect.bar').forEach(function (shape) {
      var status = shape.getAttribute('class').replace('bar ', '');
      out.fills['bar-' + status] = getComputedStyle(shape).fill;
    });
  });
  document.querySelectorAll('th').forEach(function (th) { out.headers.push(th.getAttribute('scope')); });
  document.querySelectorAll('h2').forEach(function (h) { out.sections.push(h.textContent); });
  var nothing = document.getElementById('nothing-to-report');
  out.nothing = nothing ? nothing.textContent : null;
  var pre = document.createElement('pre');
  pre.id = 'rotor-measure';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def render_layout(html_path: Path, workdir: Path, width: int, height: int = 1000, timeout: float = 90) -> Dict:
    """What Chromium laid out at a window ``width`` px wide (LAYOUT_SCRIPT's findings), and a screenshot of the page
    as it is (``workdir/layout-WIDTH.png``, kept for people to look at; the checks use the measurements)."""
    browser = chromium()
    if browser is None:
        raise FileNotFoundError("chromium is not installed (scripts/test.sh installs it)")
    workdir = Path(workdir)
    page = Path(html_path).read_text()
    measured = workdir / f"layout-{width}.html"
    measured.write_text(page.replace("</body>", LAYOUT_SCRIPT + "</body>"))
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
              "--hide-scrollbars", f"--window-size={width},{height}", f"--user-data-dir={workdir / f'chromium-profile-{width}'}"]
    completed = subprocess.run(common + ["--dump-dom", measured.as_uri()], capture_output=True, text=True, timeout=timeout, check=False)
    if completed.returncode != 0 or "rotor-measure" not in completed.stdout:
        raise RuntimeError(f"chromium exited {completed.returncode}: {completed.stderr[-2000:]}")
    subprocess.run(common + [f"--screenshot={workdir / f'layout-{width}.png'}", Path(html_path).as_uri()],
                   capture_output=True, text=True, timeout=timeout, check=False)
    return measurements(completed.stdout)
