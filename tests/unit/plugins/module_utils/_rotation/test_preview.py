"""What a check-mode run says the hosts and the cutover would do (module_utils/_rotation/preview.py, shown through
rotor.iam.rotation_report table=switches and table=cutover): key ids, paths, restarts and checks, never a secret."""

from ansible_collections.rotor.iam.plugins.filter.engine import rotation_report
from ansible_collections.rotor.iam.plugins.module_utils._rotation import run as engine
from ansible_collections.rotor.iam.plugins.module_utils._rotation.preview import planned_cutover
from ansible_collections.rotor.iam.plugins.module_utils._rotation.preview import planned_switches
from rotation_builders import OLD, Registers, hostvars, plan

read = Registers().read
REGISTERS = {"read": "__rotor_read", "switch": "__rotor_switch"}


def test_planned_switches_name_key_paths_restarts_and_checks():
    facts = hostvars(web1=dict(read(OLD), rotor_restart_services=["app"], rotor_health_check={"url": "http://web1/health"}),
                     db1=dict(read(OLD), rotor_iam_user="db"))
    assert planned_switches({"app": plan(), "db": plan(due=False)}, facts, ["web1", "db1"], registers=REGISTERS) == [
        f"web1: would write the new key of app over {OLD} in /etc/app/credentials; would restart app; would check http://web1/health"]


def test_planned_switches_never_show_url_credentials():
    facts = hostvars(web1=dict(read(OLD), rotor_health_check={"url": "http://ops:s3cr3t@web1/health"}))
    (line,) = planned_switches({"app": plan()}, facts, ["web1"])
    assert "s3cr3t" not in line and "web1/health" in line


def test_planned_cutover_says_what_happens_and_the_way_back():
    plans = {"app": plan(), "no": plan(error="locked by run r-1"), "idle": plan(due=False),
             "staged": plan(staged=True, hosts_outside_play=["web9"]), "off": plan(old_key_disabled=True)}
    lines = dict(line.split(": ", 1) for line in planned_cutover(plans, "deactivate"))
    assert sorted(lines) == ["app", "off", "staged"]
    assert lines["app"].startswith(f"would deactivate {OLD}") and f"leave {OLD} Inactive" in lines["app"]
    assert f"reactivate {OLD} and delete the new key" in lines["app"]
    assert lines["staged"] == f"staged rollout - would write the new key to web1, web2 only and leave {OLD} Active for the 1 hosts outside this play"
    assert f"{OLD} is disabled: no host is rolled back onto it" in lines["off"]
    assert f"then delete {OLD}" in planned_cutover({"app": plan()})[0]


def test_the_role_reads_both_through_rotation_report():
    run = engine.start({"app": plan()}, check_mode=True, old_key_action="delete")
    facts = hostvars(web1=read(OLD))
    assert rotation_report(run, table="cutover") == planned_cutover(run["plans"], "delete")
    assert rotation_report(run, table="switches", hostvars=facts, hosts=["web1"], registers=REGISTERS) == planned_switches(
        run["plans"], facts, ["web1"])
