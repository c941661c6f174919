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
PLAYBOOK_TIMEOUT = 300
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
