"""Plans and host registers for the rotation filter tests, built once: under the role's register names, or any others."""

from __future__ import annotations

OLD, NEW = "AKIAOLDOLDOLDOLDOLD1", "AKIANEWNEWNEWNEWNEW2"
FILE = {"path": "/etc/app/credentials", "format": "aws_credentials"}


def plan(**overrides):
    base = {"due": True, "error": None, "old_key_id": OLD, "hosts": ["web1", "web2"], "fleet_hosts": ["web1", "web2"],
            "hosts_outside_play": [], "staged": False, "old_key_disabled": False, "new_key_id": None, "resume": None}
    base.update(overrides)
    return base


def hostvars(**per_host):
    return {host: dict({"rotor_iam_user": "app", "rotor_credentials_files": [FILE]}, **facts) for host, facts in per_host.items()}


class Registers:
    """What the role's host tasks register, under the register names ``read`` and ``switch``."""

    def __init__(self, read="__rotor_read", switch="__rotor_switch"):
        self.read_name, self.switch_name = read, switch

    def read(self, *key_ids):
        """What the plan-time rotor.iam.host_credentials state=read registers."""
        return {self.read_name: {"changed": False, "file_key_ids": list(key_ids), "key_ids": [k for k in key_ids if k]}}

    def switched(self, wrote=True, failure=None, backups=("",), unreachable=False):
        """What the distribute phase's rotor.iam.host_credentials state=switched registers."""
        result = {"changed": wrote, "wrote": wrote, "switched_at": "2026-12-01T10:00:00Z",
                  "files": [{"path": FILE["path"], "access_key_id": NEW if wrote else OLD, "changed": wrote, "backup_file": b or None}
                            for b in backups]}
        if failure:
            result.update(failed=True, msg=failure["msg"], failure=failure, step="health_check")
        if unreachable:
            result = {"unreachable": True, "msg": "Failed to connect", "changed": False}
        return dict(self.read(OLD), **{self.switch_name: result})
