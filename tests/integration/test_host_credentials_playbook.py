# -*- coding: utf-8 -*-
# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rotor.iam.host_credentials through ansible-playbook on a real host (local connection, Debian's python3).

The playbook (targets/host_credentials/main.yml) runs every state against files this test seeds, with a real
HTTP server for the health check; its own asserts check the results, these tests check the output at -vvv with
--diff and what is left on disk.
"""

from __future__ import annotations

import http.server
import os
import re
import threading

import pytest

from support import run_playbook
from test_credentials_file_playbook import HOST_PYTHON, REPO, host_python_env
from test_health_check_module import Health

TARGET = os.path.join(REPO, "tests", "integration", "targets", "host_credentials")
OLD_ID = "AKIAOLDHOSTKEY000001"
NEW_ID = "AKIANEWHOSTKEY000002"
OLD_SECRET = "HostCredentialsOldSecret/0123456789abcdefAB"
NEW_SECRET = "HostCredentialsNewSecret+0123456789abcdefAB"

pytestmark = pytest.mark.skipif(not os.path.exists(HOST_PYTHON), reason="needs the host's " + HOST_PYTHON)


@pytest.fixture(scope="module")
def health_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def run(tmp_path_factory, health_url):
    """Seed the files with the old key, run the playbook once; returns (workdir, completed process)."""
    base = tmp_path_factory.mktemp("host_credentials")
    workdir = base / "host"
    workdir.mkdir()
    (workdir / "credentials").write_text(
        "[default]\nregion = eu-west-1\n[agent]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
        % (OLD_ID, OLD_SECRET))
    (workdir / "app.env").write_text("AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n" % (OLD_ID, OLD_SECRET))
    inventory = base / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % HOST_PYTHON)
    # test_playbook_passes reports a failure together with the output
    completed = run_playbook(os.path.join(TARGET, "main.yml"), base, inventories=[inventory], label="ansible-playbook", verbosity=3,
                             extra_vars={"work_dir": str(workdir), "healthy_url": health_url + "/ok", "unhealthy_url": health_url + "/down",
                                         "old_id": OLD_ID, "new_id": NEW_ID, "new_secret": NEW_SECRET},
                             combined=True, log=False, timeout=600, cwd=TARGET, env_extra=host_python_env(base))
    return workdir, completed


def test_playbook_passes(run):
    _workdir, completed = run
    assert completed.returncode == 0, completed.stdout[-6000:]
    assert re.search(r"localhost\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", completed.stdout)
    assert "Traceback" not in completed.stdout
    assert HOST_PYTHON + " " in completed.stdout  # the module ran with the host's python (AnsiballZ at -vvv)


def test_no_secret_in_the_output_at_vvv(run):
    _workdir, completed = run
    for secret in (OLD_SECRET, NEW_SECRET):
        assert secret not in completed.stdout


def test_check_mode_diff_shows_key_ids_only(run):
    _workdir, completed = run
    assert "aws_access_key_id = %s" % OLD_ID in completed.stdout
    assert "aws_access_key_id = NEW-KEY-OF-APP" in completed.stdout
    assert "aws_secret_access_key = ******** (changed)" in completed.stdout
    assert "AWS_SECRET_ACCESS_KEY=********" in completed.stdout


def test_files_hold_the_new_key_and_no_backup_is_left(run):
    workdir, _completed = run
    assert sorted(os.listdir(workdir)) == ["app.env", "credentials", "restarted"]
    assert (workdir / "credentials").read_text() == (
        "[default]\nregion = eu-west-1\n[agent]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
        % (NEW_ID, NEW_SECRET))
    assert (workdir / "app.env").read_text() == "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n" % (NEW_ID, NEW_SECRET)
    assert oct(os.stat(workdir / "app.env").st_mode & 0o777) == "0o640"
    assert (workdir / "restarted").read_text() == "once\n"
