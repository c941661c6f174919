"""The rotation as AWX runs it: the graph of extensions/awx/rotate-workflow.yml, walked node by node.

Every job runs through ansible-runner with the private data dir AWX builds (see test_awx_runner.py): the
collection installed from its tarball, the least-privilege identity of docs/iam-policy.json in a credentials
file, the survey in env/extravars with what AWX adds to every job of a workflow (``awx_workflow_job_id``,
``awx_job_id``). A sliced node (``sliced: true``) runs as 4 jobs at the same time over 4 slice inventories
(AWX deals the hosts round-robin); every other node runs with an inventory in which every host is unreachable
(it must not need one). After a node, the walk follows its ``success`` or ``failure`` edges and ``always``.

What matters is checked where it lives: keys in IAM, the journal's tags, the pending secret in Secrets Manager,
the hosts' files and the applications' health; and no secret in any job's events, stdout or artifacts.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
import yaml

pytest.importorskip("boto3")
pytest.importorskip("moto")
pytest.importorskip("ansible_runner")

from rotation_helpers import assert_hosts_on_key, key_statuses, seed_user  # noqa: E402  pylint: disable=wrong-import-position
from test_awx_runner import RunnerJob, assert_no_secret_in_job, assert_nothing_prompted, write_json  # noqa: E402  pylint: disable=wrong-import-position
from support import RunnerJobProcess, job_envvars  # noqa: E402  pylint: disable=wrong-import-position
from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from iam_endpoint.control import IAMEndpoint  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_FILE = ROOT / "extensions" / "awx" / "rotate-workflow.yml"
RUNNER_TIMEOUT = 300
HOSTS = 8
SLICES = 4
WORKFLOW_ID = 4711
SURVEY = {
    # The workflow survey of docs/awx.md, answered, and the workflow's extra variables.
    "rotor_max_key_age_days": 90,
    "rotor_old_key_action": "delete",
    "rotor_batch_size": 1,
    "rotor_pending_store": "secretsmanager",
    "rotor_lock_ttl_minutes": 120,
    "rotor_quiet_minutes": 0.1,  # the cutover job's quiet-key gate watches each old key for 6 s
}
# An inventory host no job can reach: the once-per-run nodes get only such hosts.
UNREACHABLE = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_user": "nobody",
               "ansible_ssh_common_args": "-o ConnectTimeout=2 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"}


def load_workflow() -> Dict[str, Dict]:
    nodes = yaml.safe_load(WORKFLOW_FILE.read_text())["nodes"]
    return {node["name"]: node for node in nodes}


def slices(hosts: List[str], count: int = SLICES) -> List[List[str]]:
    """AWX's job slicing: the inventory's hosts dealt round-robin into ``count`` slices."""
    return [hosts[index::count] for index in range(count)]


class Workflow:
    """One AWX workflow job over the graph of rotate-workflow.yml: its id and every job it ran."""

    def __init__(self, base: Path, endpoint: IAMEndpoint, collections: Path, fleet: Fleet, rotator, workflow_id: int = WORKFLOW_ID,
                 host_overrides: Optional[Dict[str, Dict[str, object]]] = None, extra_vars: Optional[Dict[str, object]] = None):
        self.base, self.endpoint, self.collections, self.fleet, self.rotator = base, endpoint, collections, fleet, rotator
        self.workflow_id, self.host_overrides, self.extra_vars = workflow_id, host_overrides or {}, extra_vars or {}
        self.graph = load_workflow()
        self.jobs: List[RunnerJob] = []
        self.by_node: Dict[str, List[RunnerJob]] = {}
        self.path: List[str] = []
        self.counter = 0

    def private_data_dir(self, node: str, hosts: List[str], reachable: bool, extra: Dict[str, object]) -> Path:
        self.counter += 1
        pdd = self.base / f"{self.workflow_id}-{self.counter:02d}-{node}"
        (pdd / "project").mkdir(parents=True)
        (pdd / "project" / f"{node}.yml").write_text(
            f"---\n- name: Rotate IAM access keys, workflow node {node} (rotor.iam)\n"
            f"  ansible.builtin.import_playbook: {self.graph[node]['playbook']}\n")
        hostvars = {}
        for name in hosts:
            hostvars[name] = dict(self.fleet.host_vars(name), **self.host_overrides.get(name, {}))
            if not reachable:
                hostvars[name].update(UNREACHABLE)
        write_json(pdd / "inventory" / "hosts.yml", {"all": {"children": {"rotor_fleet": {"hosts": hostvars}}}}, 0o644)
        credentials = pdd / "aws_credentials"
        _name, access_key_id, secret = self.rotator
        fd = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\n")
        write_json(pdd / "env" / "envvars", job_envvars(self.endpoint, self.collections, AWS_SHARED_CREDENTIALS_FILE=str(credentials)))
        extravars = dict(SURVEY, rotor_aws_endpoint_url=self.endpoint.endpoint_url, rotor_aws_region=self.endpoint.region,
                         awx_workflow_job_id=self.workflow_id, awx_job_id=100000 * self.workflow_id + self.counter)
        extravars.update(self.extra_vars)
        extravars.update(extra)
        write_json(pdd / "env" / "extravars", extravars)
        write_json(pdd / "env" / "settings", {"job_timeout": RUNNER_TIMEOUT - 30, "idle_timeout": 180, "pexpect_timeout": 5})
        return pdd

    def start(self, node: str, hosts: Optional[List[str]] = None, **extra) -> RunnerJobProcess:
        sliced = self.graph[node]["sliced"]
        pdd = self.private_data_dir(node, hosts if hosts is not None else self.fleet.hosts, sliced, extra)
        return RunnerJobProcess(pdd, f"{node}.yml", f"{node}-{self.counter}", timeout=RUNNER_TIMEOUT)

    def keep(self, node: str, job: RunnerJob) -> RunnerJob:
        self.jobs.append(job)
        self.by_node.setdefault(node, []).append(job)
        return job

    def run_node(self, node: str) -> List[RunnerJob]:
        """A node as AWX runs it: a sliced node as SLICES jobs at once, any other as one job (hosts unreachable)."""
        if not self.graph[node]["sliced"]:
            return [self.keep(node, self.start(node).wait(self.endpoint))]
        running = [self.start(node, part) for part in slices(self.fleet.hosts)]
        return [self.keep(node, job.wait(self.endpoint)) for job in running]

    def walk(self, intervene: Optional[Callable[["Workflow", str], Optional[List[RunnerJob]]]] = None) -> List[str]:
        """Run the graph from its first node; ``intervene(flow, node)`` may run a node itself (returning its jobs)."""
        queue, seen = [next(iter(self.graph))], set()
        while queue:
            node = queue.pop(0)
            if node in seen:
                continue
            seen.add(node)
            self.path.append(node)
            jobs = (intervene(self, node) if intervene else None) or self.run_node(node)
            ok = all(job.status == "successful" for job in jobs)
            spec = self.graph[node]
            queue += list(spec.get("success" if ok else "failure") or []) + list(spec.get("always") or [])
        return self.path

    def assert_no_secret_anywhere(self, secrets: Dict[str, str]) -> None:
        for job in self.jobs:
            assert_no_secret_in_job(job, secrets)

    def assert_once_per_run_jobs_touched_no_host(self) -> None:
        for node, jobs in self.by_node.items():
            if self.graph[node]["sliced"]:
                continue
            for job in jobs:
                events = job.events_of("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped", "runner_item_on_ok",
                                       "runner_item_on_failed")
                hosts = {event["event_data"].get("host") for event in events}
                assert hosts <= {"localhost", None}, f"{job.label} ran tasks on {hosts}"
                assert not job.events_of("runner_on_unreachable"), job.explain()


def pending_secrets(endpoint: IAMEndpoint) -> List[str]:
    client = endpoint.boto3_client("secretsmanager")
    return sorted(entry["Name"] for entry in client.list_secrets().get("SecretList", []) if entry["Name"].startswith("rotor/pending/"))


def journal_tags(endpoint: IAMEndpoint, user: str) -> Dict[str, str]:
    tags = endpoint.boto3_client("iam").list_user_tags(UserName=user)["Tags"]
    return {tag["Key"]: tag["Value"] for tag in tags if tag["Key"].startswith("rotor:")}


def wait_for_file_key(fleet: Fleet, host: str, key_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if fleet.read_credentials(host)[0] == key_id:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    pytest.fail(f"{host} never got key {key_id}")


def new_key_of(endpoint: IAMEndpoint, user: str, old_id: str) -> Optional[str]:
    return next((k for k in key_statuses(endpoint, user) if k != old_id), None)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def seeded(iam_endpoint, make_rotator, fleets):
    """An IAM user whose only key is 120 days old, 8 local hosts on it, and the rotation identity."""
    iam_endpoint.reset()
    user = "wf-app"
    old_id, old_secret = seed_user(iam_endpoint, user, 120)
    rotator = make_rotator(iam_endpoint)
    fleet = fleets.start(user, {user: (old_id, old_secret)}, size=HOSTS, name="fleet")
    assert_hosts_on_key(fleet, old_id)
    return {"user": user, "old_id": old_id, "old_secret": old_secret, "fleet": fleet, "rotator": rotator}


@pytest.fixture
def workflow(seeded, iam_endpoint, installed_collections, tmp_path):
    def make(**options) -> Workflow:
        return Workflow(tmp_path / "jobs", iam_endpoint, installed_collections, seeded["fleet"], seeded["rotator"], **options)
    return make


def secrets_of(endpoint: IAMEndpoint, seeded, new_secret: Optional[str] = None) -> Dict[str, str]:
    secrets = {"old secret": seeded["old_secret"], "rotator secret": seeded["rotator"][2], "admin secret": endpoint.admin_secret_access_key}
    if new_secret:
        secrets["new secret"] = new_secret
    return secrets


def assert_rolled_back(endpoint: IAMEndpoint, seeded, flow: Workflow) -> None:
    assert key_statuses(endpoint, seeded["user"]) == {seeded["old_id"]: "Active"}, "the new key was not deleted"
    assert_hosts_on_key(seeded["fleet"], seeded["old_id"])
    assert pending_secrets(endpoint) == [], "the pending secret outlived the rollback"
    tags = journal_tags(endpoint, seeded["user"])
    assert tags.get("rotor:phase") == "rolled_back" and "rotor:lock-run" not in tags, tags
    assert tags.get("rotor:run") == str(flow.workflow_id), tags


# --------------------------------------------------------------------------- cases


@pytest.mark.smoke
def test_the_workflow_rotates_every_host_and_its_once_per_run_jobs_touch_none(iam_endpoint, seeded, workflow):
    """All succeed: prepare → distribute ⧉ → cutover → settle ⧉ → finish → cleanup ⧉; the old key is gone, every
    host runs on the new one with no backup left, and prepare, cutover and finish ran with every host unreachable."""
    user, fleet = seeded["user"], seeded["fleet"]
    flow = workflow()

    path = flow.walk()

    assert path == ["prepare", "distribute", "cutover", "settle", "finish", "cleanup"], [j.explain() for j in flow.jobs if j.status != "successful"]
    assert all(job.status == "successful" for job in flow.jobs), [j.explain() for j in flow.jobs if j.status != "successful"]
    for job in flow.jobs:
        assert_nothing_prompted(job)
    keys = key_statuses(iam_endpoint, user)
    assert len(keys) == 1 and seeded["old_id"] not in keys, keys
    new_id = next(iter(keys))
    assert_hosts_on_key(fleet, new_id)
    assert pending_secrets(iam_endpoint) == []
    tags = journal_tags(iam_endpoint, user)
    assert tags.get("rotor:phase") == "completed" and "rotor:lock-run" not in tags, tags
    assert not [k for k in tags if k.startswith("rotor:failed-")], tags
    for host in fleet.hosts:
        path_ = Path(fleet.host(host).credentials_path)
        assert not [p for p in path_.parent.iterdir() if p.name != path_.name and path_.name in p.name], f"backups left on {host}"
    flow.assert_once_per_run_jobs_touched_no_host()
    assert flow.by_node["finish"][0].artifacts["rotor_finish"]["rotated"] == [user]
    flow.assert_no_secret_anywhere(secrets_of(iam_endpoint, seeded, fleet.read_credentials("host1")[1]))


def test_an_unknown_consumer_of_the_old_key_stops_the_cutover_and_leaves_its_user_waiting_for_quiet(iam_endpoint, seeded, workflow):
    """A process outside the inventory signs with the old key on a timer. The cutover job's quiet-key gate sees it
    used after every host switched: the old key stays Active and the user waits for quiet (hosts on the new key,
    journal waiting_for_quiet, lock released), the settle slices leave it alone, and finish fails naming it and what
    to run. The consumer never breaks."""
    user, fleet = seeded["user"], seeded["fleet"]
    unknown = fleet.start_unknown_consumer("cron-box", seeded["old_id"], seeded["old_secret"], interval=0.5)
    began = time.time()
    unknown.wait_for_calls(2, since=began)
    flow = workflow()

    path = flow.walk()

    assert path == ["prepare", "distribute", "cutover", "settle", "finish"], path
    cutover, finish = flow.by_node["cutover"][0], flow.by_node["finish"][0]
    assert cutover.status == "successful", cutover.explain()
    assert f"stopped by the quiet-key gate before touching the old key {seeded['old_id']}" in cutover.stdout, cutover.explain()
    assert cutover.artifacts["rotor_cutover"]["waiting_for_quiet"] == [user]
    assert finish.status == "failed" and "waiting_for_quiet" in finish.stdout and "rotor.iam.rotate" in finish.stdout, finish.explain()
    keys = key_statuses(iam_endpoint, user)
    assert keys.get(seeded["old_id"]) == "Active" and len(keys) == 2, keys
    new_id = next(key for key in keys if key != seeded["old_id"])
    assert_hosts_on_key(fleet, new_id)
    tags = journal_tags(iam_endpoint, user)
    assert tags.get("rotor:phase") == "waiting_for_quiet" and "rotor:lock-run" not in tags, tags
    assert not unknown.unhealthy_answers(since=began), "the unknown consumer broke during the workflow"
    flow.assert_once_per_run_jobs_touched_no_host()
    flow.assert_no_secret_anywhere(secrets_of(iam_endpoint, seeded, fleet.read_credentials("host1")[1]))


def test_a_failing_host_in_one_slice_marks_its_user_and_the_rollback_path_restores_every_host(iam_endpoint, seeded, workflow):
    """host3 is healthy only on the old key: its distribute slice marks the user failed in the run and fails; the
    walk takes the failure edge: rollback → restore ⧉ → finish, which deletes the new key (no host holds it)."""
    fleet = seeded["fleet"]
    check = f"grep -q {seeded['old_id']} {fleet.host('host3').credentials_path}"
    flow = workflow(host_overrides={"host3": {"rotor_health_check": {"command": check, "retries": 1, "delay": 0}}})

    path = flow.walk()

    assert path == ["prepare", "distribute", "rollback", "restore", "finish"], path
    failing = [job for job in flow.by_node["distribute"] if job.status != "successful"]
    assert len(failing) == 1 and "host3" in failing[0].stdout, [job.explain() for job in flow.by_node["distribute"]]
    assert flow.by_node["finish"][0].status == "failed" and "rolled back" in flow.by_node["finish"][0].stdout
    assert_rolled_back(iam_endpoint, seeded, flow)
    assert journal_tags(iam_endpoint, seeded["user"]).get("rotor:failed-distribute") == str(WORKFLOW_ID)
    flow.assert_once_per_run_jobs_touched_no_host()
    flow.assert_no_secret_anywhere(secrets_of(iam_endpoint, seeded))


def test_the_rollback_path_keeps_a_new_key_that_something_outside_the_inventory_still_uses(iam_endpoint, seeded, workflow):
    """host3 fails its slice, so the workflow rolls back; meanwhile a process outside the inventory took the new key
    and keeps signing with it. Every host goes back to the old key, but finish does not delete the new key (it would
    break that process): it keeps it, the journal stays rolling_back for rotor.iam.rotate, and finish says why."""
    user, fleet = seeded["user"], seeded["fleet"]
    check = f"grep -q {seeded['old_id']} {fleet.host('host3').credentials_path}"
    flow = workflow(host_overrides={"host3": {"rotor_health_check": {"command": check, "retries": 1, "delay": 0}}})
    state = {}

    def outsider_takes_the_new_key(wf: Workflow, node: str) -> Optional[List[RunnerJob]]:
        if node == "rollback":
            holder = next(host for host in fleet.hosts if fleet.read_credentials(host)[0] != seeded["old_id"])
            state["new_id"], state["new_secret"] = fleet.read_credentials(holder)
            state["began"] = time.time()
            state["outsider"] = fleet.start_unknown_consumer("copied-it", state["new_id"], state["new_secret"], interval=0.5)
            state["outsider"].wait_for_calls(2, since=state["began"])
        return None

    path = flow.walk(outsider_takes_the_new_key)

    assert path == ["prepare", "distribute", "rollback", "restore", "finish"], path
    finish = flow.by_node["finish"][0]
    assert finish.status == "failed" and "its new key is still used" in finish.stdout, finish.explain()
    assert finish.artifacts["rotor_finish"]["kept_new_key"] == [user], finish.artifacts
    assert key_statuses(iam_endpoint, user) == {seeded["old_id"]: "Active", state["new_id"]: "Active"}
    assert_hosts_on_key(fleet, seeded["old_id"])
    tags = journal_tags(iam_endpoint, user)
    assert tags.get("rotor:phase") == "rolling_back" and "rotor:lock-run" not in tags, tags
    assert not state["outsider"].unhealthy_answers(since=state["began"]), "the process on the new key broke"
    flow.assert_once_per_run_jobs_touched_no_host()
    flow.assert_no_secret_anywhere(secrets_of(iam_endpoint, seeded, new_secret=state["new_secret"]))


def test_a_slice_killed_then_relaunched_late_never_writes_the_deleted_key(iam_endpoint, seeded, workflow):
    """Slice 1 dies after its first host switched: the node fails, the rollback path puts every host back and
    deletes the new key. The killed slice, relaunched afterwards with the run's id, finds its run ended (the fence)
    and writes nothing: no host ever holds the deleted key again."""
    fleet = seeded["fleet"]
    flow = workflow()
    first = slices(fleet.hosts)[0]
    state = {}

    def kill_slice_one(wf: Workflow, node: str) -> Optional[List[RunnerJob]]:
        if node != "distribute":
            return None
        new_id = new_key_of(iam_endpoint, seeded["user"], seeded["old_id"])
        state["new_id"] = new_id
        running = [wf.start(node, part) for part in slices(fleet.hosts)]
        wait_for_file_key(fleet, first[0], new_id)
        running[0].kill()
        return [wf.keep(node, job.wait(iam_endpoint)) for job in running]

    path = flow.walk(kill_slice_one)

    assert path == ["prepare", "distribute", "rollback", "restore", "finish"], path
    assert_rolled_back(iam_endpoint, seeded, flow)
    late = flow.keep("distribute", flow.start("distribute", first, rotor_run_id=str(WORKFLOW_ID)).wait(iam_endpoint))
    assert "not distributing" in late.stdout or "nothing for the distribute job" in late.stdout, late.explain()
    assert_hosts_on_key(fleet, seeded["old_id"])
    assert state["new_id"] not in json.dumps([fleet.read_credentials(h)[0] for h in fleet.hosts])
    flow.assert_no_secret_anywhere(secrets_of(iam_endpoint, seeded))


def test_two_workflows_on_one_user_the_second_changes_nothing(iam_endpoint, seeded, workflow):
    """Workflow 4711 prepares the user; workflow 4712 starts meanwhile: its prepare cannot take the lock and fails,
    its rollback refuses the journal of run 4711 (naming both runs); 4711 then completes the rotation alone."""
    fleet = seeded["fleet"]
    first, second = workflow(), workflow(workflow_id=WORKFLOW_ID + 1)
    jobs = first.run_node("prepare")
    assert jobs[0].status == "successful", jobs[0].explain()

    path = second.walk()

    assert path == ["prepare", "rollback"], path
    refusal = second.by_node["rollback"][0]
    assert refusal.status == "failed" and "4711" in refusal.stdout and "4712" in refusal.stdout, refusal.explain()
    tags = journal_tags(iam_endpoint, seeded["user"])
    assert tags.get("rotor:run") == "4711" and tags.get("rotor:phase") == "distributing", tags
    first.graph = dict(first.graph)
    first.path = ["prepare"]
    queue = ["distribute"]
    while queue:
        node = queue.pop(0)
        first.path.append(node)
        ok = all(job.status == "successful" for job in first.run_node(node))
        queue += list(first.graph[node].get("success" if ok else "failure") or [])
    assert first.path == ["prepare", "distribute", "cutover", "settle", "finish", "cleanup"], first.path
    keys = key_statuses(iam_endpoint, seeded["user"])
    assert len(keys) == 1 and seeded["old_id"] not in keys, keys
    assert_hosts_on_key(fleet, next(iter(keys)))
    first.assert_no_secret_anywhere(secrets_of(iam_endpoint, seeded, fleet.read_credentials("host1")[1]))
    second.assert_no_secret_anywhere(secrets_of(iam_endpoint, seeded, fleet.read_credentials("host1")[1]))


def test_a_job_with_a_stale_run_id_refuses_naming_both_runs(iam_endpoint, seeded, workflow):
    """Run 4712 is distributing; a distribute slice of run 4711 (a relaunch with the old id) refuses before it reads
    a secret or touches a host; so does a cutover job with the stale id."""
    fleet = seeded["fleet"]
    flow = workflow(workflow_id=WORKFLOW_ID + 1)
    assert flow.run_node("prepare")[0].status == "successful"

    stale = flow.keep("distribute", flow.start("distribute", slices(fleet.hosts)[0], rotor_run_id=str(WORKFLOW_ID)).wait(iam_endpoint))
    cutover = flow.keep("cutover", flow.start("cutover", rotor_run_id=str(WORKFLOW_ID)).wait(iam_endpoint))

    for job in (stale, cutover):
        assert job.status == "failed", job.explain()
        assert "4711" in job.stdout and "4712" in job.stdout and "Nothing was changed" in job.stdout, job.explain()
    assert stale.calls.get("GetSecretValue", 0) == 0, stale.calls
    assert_hosts_on_key(fleet, seeded["old_id"])
    tags = journal_tags(iam_endpoint, seeded["user"])
    assert tags.get("rotor:run") == str(WORKFLOW_ID + 1) and tags.get("rotor:phase") == "distributing", tags
    flow.assert_no_secret_anywhere(secrets_of(iam_endpoint, seeded))
