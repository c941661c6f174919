"""A host's state from what the role registered on it (plugins/module_utils/_rotation/hosts.py): the phases it went
through, its failures, never a credential of a health-check URL."""

from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_state
from rotation_builders import OLD, Registers

_REGISTERS = Registers()
read, switched = _REGISTERS.read, _REGISTERS.switched


HEALTHY = switched()


def test_host_state_follows_the_phases():
    assert host_state(read(OLD))["state"] == "untouched" and host_state(read(OLD))["key_ids"] == [OLD]
    assert host_state({})["reachable"] is False
    healthy = host_state(dict(HEALTHY))
    assert healthy["state"] == "healthy" and healthy["wrote"] and healthy["moved_at"] == "2026-12-01T10:00:00Z"
    rechecked = host_state(dict(HEALTHY, __rotor_recheck={"failed": True, "msg": "HTTP 503", "attempts": 3}, rotor_health_check={"url": "http://h/"}))
    assert rechecked["state"] == "failed"
    assert rechecked["failure"] == {"check": "health check after deactivating the old key (http://h/)", "msg": "HTTP 503"}
    assert host_state(dict(HEALTHY, __rotor_recheck={"skipped": True}))["state"] == "healthy"
    assert host_state(switched(unreachable=True))["state"] == "unreachable"
    assert host_state(dict(HEALTHY), in_play=False)["state"] == "unreachable"
    restored = host_state(dict(HEALTHY, __rotor_settle={"changed": True, "restored": True, "invocation": {"module_args": {"state": "restored"}}}))
    assert restored["restored"] and not restored["restore_failure"]
    cleanup_failed = {"failed": True, "msg": "x", "step": "backups", "invocation": {"module_args": {"state": "backups_absent"}}}
    cleaned = host_state(dict(HEALTHY, __rotor_settle=cleanup_failed))
    assert not cleaned["restored"] and not cleaned["restore_failure"]


def test_a_failed_recheck_names_the_url_without_its_credentials():
    facts = dict(HEALTHY, __rotor_recheck={"failed": True, "msg": "HTTP 503"}, rotor_health_check={"url": "http://ops:s3cr3t@h/"})
    assert host_state(facts)["failure"]["check"] == "health check after deactivating the old key (http://********@h/)"


def test_a_host_whose_key_is_unknown_says_why():
    from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_read as read_of
    registers = {"read": "__rotor_read"}
    assert read_of({}, registers)["unread"] == "not_read"  # failed before the plan's read (its input)
    assert read_of({"__rotor_read": {"unreachable": True}}, registers)["unread"] == "unreachable"
    assert read_of({"__rotor_read": {"failed": True, "msg": "denied"}}, registers)["unread"] == "failed"
    assert "unread" not in read_of({"__rotor_read": {"key_ids": ["AKIAOLD"]}}, registers)


def test_the_plan_says_which_hosts_are_unreachable_and_which_failed_before_it():
    from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import unread_hosts_message
    only_down = unread_hosts_message("app", {"web1": "unreachable"})
    assert "hosts web1 are unreachable" in only_down and only_down.endswith("Bring them back and run again.")
    mixed = unread_hosts_message("app", {"web1": "unreachable", "web2": "not_read", "web3": "failed"})
    assert "hosts web1 are unreachable" in mixed and "hosts web2 failed earlier in this run" in mixed
    assert "hosts web3 could not read their credentials files" in mixed and "unreachable" not in mixed.split(";", 1)[1]
    assert mixed.endswith("Fix them and run again.")
