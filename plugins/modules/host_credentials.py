#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_credentials
version_added: 0.3.0
short_description: Read, switch, check, restore or clean up all of a host's credentials files in one module run
description:
  - Works on the whole list of a host's credentials files, plus the restart of the services that use the key and the
    host's health check, in one module run per host and phase, instead of one M(rotor.iam.credentials_file) task per
    file and a separate M(rotor.iam.health_check) task.
  - Each file is handled by the same code as M(rotor.iam.credentials_file), with the same formats, backups and
    host-hardening rules (directory descriptors, no link followed unless trusted, only regular files with one link,
    atomic writes); the restart and the health check by the same code as M(rotor.iam.health_check).
  - Every entry of O(files) and every option is validated before anything on the host is touched.
  - The result always carries RV(files), RV(file_key_ids), RV(key_ids), RV(wrote), RV(restored), RV(restarted),
    RV(step) and RV(failure), also when the module fails, so a task with C(ignore_errors) or a C(rescue) can tell
    what was written before the failure. No result ever holds a secret.
  - Runs on the managed host with the Python standard library only; it does not need boto3.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  files:
    description:
      - The host's credentials files. Each entry takes the options of M(rotor.iam.credentials_file) that describe a
        file, with the same defaults and the same validation.
      - An entry with another key, without O(files[].path), or with an invalid value fails the module before
        anything is touched, with a message that starts with the entry and its key, for example C(files[1].format).
      - An empty list is valid; there is then nothing to do on files.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Absolute path of the credentials file, see O(rotor.iam.credentials_file#module:path).
        type: path
        required: true
      format:
        description:
          - Layout of the file, see O(rotor.iam.credentials_file#module:format).
        type: str
        choices: [aws_credentials, env, json]
        default: aws_credentials
      profile:
        description:
          - Section of the V(aws_credentials) file, see O(rotor.iam.credentials_file#module:profile).
        type: str
        default: default
      variable_names:
        description:
          - Names under which the key is stored for V(env) and V(json), see
            O(rotor.iam.credentials_file#module:variable_names).
        type: dict
        suboptions:
          access_key_id:
            description: Name of the access key id entry.
            type: str
          secret_access_key:
            description: Name of the secret access key entry.
            type: str
      owner:
        description:
          - User that should own the file, see O(rotor.iam.credentials_file#module:owner). Used by O(state=switched).
        type: str
      group:
        description:
          - Group that should own the file, see O(rotor.iam.credentials_file#module:group). Used by O(state=switched).
        type: str
      mode:
        description:
          - Permissions of the file, see O(rotor.iam.credentials_file#module:mode); an unquoted number that YAML
            reads as decimal is refused in the same way. Validated in every state, used by O(state=switched).
          - If not given, an existing file keeps its mode (a new file gets V(0600)).
        type: raw
      create:
        description:
          - With O(state=switched), allow writing where no access key id is yet (a new file, profile or variables),
            see O(rotor.iam.credentials_file#module:create). Otherwise such a file fails the write, changing nothing.
          - The plan of C(rotor.iam.rotate) refuses a user whose file holds no key of that user unless this is set.
        type: bool
        default: false
  state:
    description:
      - V(read) changes nothing and returns the access key id each file holds (never a secret), and for each file
        whether it exists, whether the declared profile or variables are in it, why it does not parse and which
        other format it looks like (RV(files[].exists), RV(files[].found), RV(files[].error),
        RV(files[].looks_like), RV(files[].mode)). It runs identically in check mode.
      - V(switched) writes O(access_key_id) and O(secret_access_key) into every file, in order, with a backup of each
        (unless O(backup=false)), exactly as O(rotor.iam.credentials_file#module:state=present) does; then restarts
        O(restart_services) and runs O(restart_command); then runs O(health_check). It stops at the first step (or
        file) that fails.
      - V(checked) only runs O(health_check), with no restart and no write.
      - V(restored) puts every file back from its backup, as O(rotor.iam.credentials_file#module:state=restored)
        does, from the entry of O(backup_files) for that file when it is given and not empty, else from the newest
        trusted backup holding O(backup_access_key_id) (else the newest backup). Every file is tried; when any fails, the module fails
        without restarting, and RV(files) says which files were restored. Otherwise it then restarts and runs the
        health check, like V(switched).
      - V(backups_absent) removes the backups (and leftover temporary files) of every file, as
        O(rotor.iam.credentials_file#module:state=backups_absent) does. Every file is tried.
    type: str
    choices: [read, switched, checked, restored, backups_absent]
    default: read
  access_key_id:
    description:
      - The access key id to write, V(AKIA) or V(ASIA) followed by 16 upper-case letters or digits.
      - Required when O(state=switched).
      - In check mode only, a placeholder of the form V(NEW-KEY-OF-<IAM user name>) is also accepted, as by
        M(rotor.iam.credentials_file).
    type: str
  secret_access_key:
    description:
      - The secret access key to write. Never logged, returned or shown in a diff.
      - Required when O(state=switched).
    type: str
  expected_access_key_id:
    description:
      - The access key id every file must hold before the module writes or checks anything, read in the same module
        run (no separate read task is needed).
      - With O(state=switched), the key being replaced; a file that already holds O(access_key_id) also passes (a
        resumed run), and so does a file that holds no key id when its entry has O(files[].create=true).
      - With O(state=checked), the key the files must hold for the health check to count.
      - When a file holds another key id (or none, or cannot be read), the module fails with RV(step=expected_key),
        a message naming each such file and the key id it holds (never a secret; a value that is not a key id is
        withheld), and writes, restarts and checks nothing. It runs identically in check mode.
      - Used only with O(state=switched) and O(state=checked).
    type: str
    version_added: 0.5.0
  backup:
    description:
      - With O(state=switched), keep a backup of each file before changing it, see
        O(rotor.iam.credentials_file#module:backup).
    type: bool
    default: true
  backup_files:
    description:
      - With O(state=restored), the backup to restore for each file, aligned with O(files), typically
        RV(files[].backup_file) of an earlier O(state=switched) run. An empty or V(null) entry means "the newest
        backup holding O(backup_access_key_id)".
      - Either empty or as long as O(files).
    type: list
    elements: str
  backup_access_key_id:
    description:
      - With O(state=restored), the access key id the backups to restore hold, for the files without an entry in
        O(backup_files), see O(rotor.iam.credentials_file#module:backup_access_key_id).
    type: str
  restart_services:
    description:
      - With O(state=switched) and O(state=restored), services restarted, in order, after the files are written, see
        O(rotor.iam.health_check#module:restart_services) (the same unit name rules).
    type: list
    elements: str
    default: []
  restart_command:
    description:
      - With O(state=switched) and O(state=restored), a shell command run after the services restart and before the
        health check.
    type: str
  health_check:
    description:
      - The health check run by O(state=switched), O(state=restored) and O(state=checked), with the semantics and
        validation of M(rotor.iam.health_check).
      - An empty dict, or one with neither O(health_check.url) nor O(health_check.command), means no check.
      - Credentials in O(health_check.url) are redacted (V(https://********@host/health)) in every result and message,
        including the module's C(invocation); so are the values of query and fragment parameters named like
        credentials (token, secret, password, key, signature, auth, session).
    type: dict
    default: {}
    suboptions:
      url:
        description:
          - URL requested (GET) from the host; healthy when the status is one of O(health_check.status_code).
          - Mutually exclusive with O(health_check.command).
        type: str
      command:
        description: Shell command run on the host; exit code 0 means healthy.
        type: str
      status_code:
        description: Status codes that mean healthy; a single integer is taken as a list of one.
        type: list
        elements: int
        default: [200]
      retries:
        description: Attempts after the first one before the check fails.
        type: int
        default: 5
      delay:
        description: Seconds between attempts.
        type: float
        default: 2
      timeout:
        description: Seconds one HTTP request may take.
        type: float
        default: 10
extends_documentation_fragment:
  - rotor.iam.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode writes nothing, restarts nothing and runs no health check. C(changed) and the diff say what would
        change, RV(files) what each file would hold, RV(restarted) what would be restarted; RV(wrote) and
        RV(restored) are V(false).
  diff_mode:
    support: full
    details:
      - The diff is a list with one entry per file handled, as M(rotor.iam.credentials_file) shows it (key ids, a
        redacted secret, mode, owner and group), or the backups removed.
  idempotent:
    support: partial
    description: When run again with the same options, it changes nothing.
    details:
      - The files are not changed again, but O(state=switched) and O(state=restored) restart the services (and so
        report a change) on every run, as a resumed run needs.
  platform:
    support: full
    platforms: posix
    description: Target OS/families that can be operated against.
notes:
  - O(secret_access_key) is marked C(no_log). The module never returns a secret and never puts file content in its
    result.
  - Owner and group names are resolved only by O(state=switched), where they are used.
  - Any error ends in a clear failure message naming the input, the file or the check, never in a traceback.
  - The collection's C(docs/security.md) states the threat model and what each host-side module refuses and why.
seealso:
  - module: rotor.iam.credentials_file
  - module: rotor.iam.health_check
"""

EXAMPLES = r"""
- name: Learn which key ids the host's files hold
  rotor.iam.host_credentials:
    files: "{{ rotor_credentials_files }}"
  register: held

- name: Write the new key into every file, restart the agent and prove it works
  rotor.iam.host_credentials:
    state: switched
    files:
      - path: /root/.aws/credentials
        profile: backup-agent
      - path: /etc/backup-agent/aws.env
        format: env
        group: backup-agent
        mode: '0640'
    access_key_id: "{{ new_key.access_key_id }}"
    secret_access_key: "{{ new_key.secret_access_key }}"
    restart_services: [backup-agent]
    health_check:
      url: http://127.0.0.1:8080/health
      retries: 10
      delay: 3
  register: switched
  no_log: true
  ignore_errors: true

- name: Put every file back on the old key (rollback)
  rotor.iam.host_credentials:
    state: restored
    files: "{{ rotor_credentials_files }}"
    backup_files: "{{ switched.files | map(attribute='backup_file') | list }}"
    backup_access_key_id: "{{ old_key_id }}"
    restart_services: [backup-agent]
    health_check:
      command: /usr/local/bin/app-selftest --aws

- name: After a successful rotation, remove the backups that hold the old secret
  rotor.iam.host_credentials:
    state: backups_absent
    files: "{{ rotor_credentials_files }}"
"""

RETURN = r"""
files:
  description:
    - One entry per entry of O(files), in the same order.
    - Entries the run did not reach (after a failure) tell what the file holds.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The O(files[].path) of the entry.
      type: str
      sample: /root/.aws/credentials
    access_key_id:
      description:
        - The access key id in the file after this run (in check mode, what it would hold); V(null) if none, or when
          it cannot be read.
      type: str
      sample: AKIAIOSFODNN7EXAMPLE
    changed:
      description: Whether this run changed (in check mode, would change) the file or its backups.
      type: bool
      sample: true
    exists:
      description: With O(state=read), whether the file exists.
      type: bool
      returned: when O(state=read)
      sample: true
    found:
      description:
        - With O(state=read), whether the declared location is in the file (the [profile] section for
          V(aws_credentials), the access key id variable or member for V(env) and V(json)).
      type: bool
      returned: when O(state=read)
      sample: true
    error:
      description: With O(state=read), why the file cannot be read in its declared format; V(null) when it can.
      type: str
      returned: when O(state=read)
      sample: null
    looks_like:
      description:
        - With O(state=read), the format the file reads as when it does not parse, or holds no key, in its declared
          format (V(aws_credentials), V(env) or V(json)); else V(null).
      type: str
      returned: when O(state=read)
      sample: null
    mode:
      description: With O(state=read), the file's permissions (octal string); V(null) when it does not exist.
      type: str
      returned: when O(state=read)
      sample: '0600'
    backup_file:
      description:
        - With O(state=switched), the backup made before the write (or the marker of an absent file); V(null) if none.
        - With O(state=restored), the backup restored from (and removed); V(null) when nothing needed restoring.
      type: str
      sample: /root/.aws/credentials.20261125T214300123456Z.AKIAI44QH8DHBEXAMPLE.rotor-iam-backup
  sample:
    - path: /root/.aws/credentials
      access_key_id: AKIAIOSFODNN7EXAMPLE
      changed: true
      backup_file: /root/.aws/credentials.20261125T214300123456Z.AKIAI44QH8DHBEXAMPLE.rotor-iam-backup
file_key_ids:
  description: The access key id each file holds after the run, aligned with O(files); an empty string when none.
  returned: always
  type: list
  elements: str
  sample: [AKIAIOSFODNN7EXAMPLE, '']
key_ids:
  description: The distinct non-empty RV(file_key_ids), in file order.
  returned: always
  type: list
  elements: str
  sample: [AKIAIOSFODNN7EXAMPLE]
wrote:
  description:
    - With O(state=switched), whether at least one file holds O(access_key_id) after the run, because this run wrote
      it or because it already held it (a resumed run). After a failed write, what was written so far.
    - V(false) in check mode and in the other states.
  returned: always
  type: bool
  sample: true
restored:
  description: With O(state=restored), whether at least one file was put back from a backup; V(false) in check mode.
  returned: always
  type: bool
  sample: false
restarted:
  description: What was restarted (service names and the restart command), in order; in check mode, what would be.
  returned: always
  type: list
  elements: str
  sample: [backup-agent]
attempts:
  description: How many attempts the health check took; 0 when no check ran.
  returned: always
  type: int
  sample: 1
status:
  description: HTTP status or exit code of the health check's last attempt; V(null) when no check ran.
  returned: always
  type: int
  sample: 200
switched_at:
  description: With O(state=switched), the UTC time the writes finished (C(YYYY-MM-DDTHH:MM:SSZ)); else V(null).
  returned: always
  type: str
  sample: '2026-11-25T21:43:00Z'
step:
  description:
    - On failure, the step that failed - V(input) (an option or an entry of O(files) is invalid; nothing was touched),
      V(expected_key) (a file does not hold O(expected_access_key_id); nothing was touched), V(read), V(write),
      V(restart), V(health_check), V(restore) or V(backups).
    - V(null) on success.
  returned: always
  type: str
  sample: health_check
failure:
  description: On failure, what failed; V(null) on success.
  returned: always
  type: dict
  contains:
    check:
      description: What failed, for example C(writing /etc/app/credentials) or C(HTTP health check URL) (with URL
        credentials redacted).
      type: str
    msg:
      description: Why it failed.
      type: str
  sample:
    check: HTTP health check http://127.0.0.1:8080/health
    msg: 'HTTP health check http://127.0.0.1:8080/health failed after 6 attempt(s): HTTP 503'
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rotor.iam.plugins.module_utils import health
from ansible_collections.rotor.iam.plugins.module_utils._credfile import operations
from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import CredentialsFileError
from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import check_access_key_id
from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import printable
from ansible_collections.rotor.iam.plugins.module_utils._specs import HEALTH_CHECK_MUTUALLY_EXCLUSIVE
from ansible_collections.rotor.iam.plugins.module_utils._specs import OptionError
from ansible_collections.rotor.iam.plugins.module_utils._specs import check_suboptions
from ansible_collections.rotor.iam.plugins.module_utils._specs import credentials_file_entry_spec
from ansible_collections.rotor.iam.plugins.module_utils._specs import health_check_option
from ansible_collections.rotor.iam.plugins.module_utils._specs import health_check_spec
from ansible_collections.rotor.iam.plugins.module_utils._specs import restart_spec

STATES = ("read", "switched", "checked", "restored", "backups_absent")
# How a failure of each state's file step is named: (step, check).
FILE_STEPS = {
    "read": ("read", "reading %s"),
    "switched": ("write", "writing %s"),
    "restored": ("restore", "restoring %s"),
    "backups_absent": ("backups", "removing the backups of %s"),
}


class InputError(Exception):
    """An option or an entry of files is invalid; the message names it. Nothing was touched."""


# --------------------------------------------------------------------------- inputs


def file_entry(index, options, state):
    """One entry of files, validated against the credentials-file entry spec: (operations.FileEntry, warnings)."""
    label = "files[%d]" % index
    try:
        options = check_suboptions(label, credentials_file_entry_spec(), options)
        entry = operations.check_entry(options, resolve_ids=state == "switched")
    except OptionError as exc:
        raise InputError(str(exc))
    except operations.EntryError as exc:
        raise InputError("%s.%s: %s" % (label, exc.option, exc))
    return entry, ["%s: %s" % (label, warning) for warning in operations.entry_warnings(options)]


def health_spec(value):
    """health_check validated against the health-check spec, with its defaults."""
    try:
        return check_suboptions("health_check", health_check_spec(), {} if value is None else value,
                                HEALTH_CHECK_MUTUALLY_EXCLUSIVE)
    except OptionError as exc:
        raise InputError(str(exc))


def check_inputs(params, check_mode):
    """Everything the run needs, validated before anything on the host is touched. Raises InputError.

    Under AnsibleModule the specs were applied already; applying them again costs nothing, keeps run() safe with
    raw options (its tests) and says which entry is at fault.
    """
    state = params.get("state") or "read"
    if state not in STATES:
        raise InputError("state must be one of %s, got '%s'" % (", ".join(STATES), printable(str(state))))
    files = params.get("files")
    if not isinstance(files, list):
        raise InputError("files must be a list of dicts, each with at least path")
    entries, warnings = [], []
    for index, options in enumerate(files):
        entry, entry_warnings = file_entry(index, options, state)
        entries.append(entry)
        warnings.extend(entry_warnings)
    services = list(params.get("restart_services") or [])
    checks = health_spec(params.get("health_check"))
    try:
        health.check_params(dict(checks, restart_services=services))
    except health.HealthCheckError as exc:
        message = str(exc)
        raise InputError(message if message.startswith("restart_services") else "health_check." + message)
    inputs = {"state": state, "files": entries, "restart_services": services,
              "restart_command": params.get("restart_command") or None, "health_check": checks,
              "backup": params.get("backup") is not False, "warnings": warnings}
    if state == "switched":
        try:
            operations.check_new_key(params.get("access_key_id"), params.get("secret_access_key"), check_mode,
                                     state="switched")
        except CredentialsFileError as exc:
            raise InputError(str(exc))
        inputs.update(access_key_id=params["access_key_id"], secret_access_key=params["secret_access_key"])
    expected = params.get("expected_access_key_id") or None
    if expected:
        if state not in ("switched", "checked"):
            raise InputError("expected_access_key_id is used only with state=switched or state=checked, not state=%s" % state)
        try:
            check_access_key_id("expected_access_key_id", expected)
        except CredentialsFileError as exc:
            raise InputError(str(exc))
    inputs["expected_access_key_id"] = expected
    if state == "restored":
        backup_files = list(params.get("backup_files") or [])
        if backup_files and len(backup_files) != len(entries):
            raise InputError("backup_files has %d entries but files has %d; give one entry per file (empty for "
                             "'the newest backup holding backup_access_key_id') or none"
                             % (len(backup_files), len(entries)))
        key_id = params.get("backup_access_key_id") or None
        if key_id:
            try:
                check_access_key_id("backup_access_key_id", key_id)
            except CredentialsFileError as exc:
                raise InputError(str(exc))
        inputs.update(backup_files=[name or None for name in backup_files] or [None] * len(entries),
                      backup_access_key_id=key_id)
    return inputs


# --------------------------------------------------------------------------- one file


def unexpected_error_message(what, exc):
    """A clear one-line message for an error no check anticipated; no file content, no traceback."""
    if isinstance(exc, OSError):
        detail = exc.strerror or exc.__class__.__name__
        if exc.filename:
            detail += " (%s)" % exc.filename
    else:
        detail = exc.__class__.__name__
    return "%s failed: %s" % (what, detail)


def on_file(entry, what, work, *args, **kwargs):
    """work(entry, ...) on one file: (result, error message or None); never raises for what the host can do."""
    try:
        return work(entry, *args, **kwargs), None
    except CredentialsFileError as exc:
        return None, str(exc)
    except Exception as exc:  # pylint: disable=broad-except
        return None, unexpected_error_message("%s on %s" % (what, entry.path), exc)


def held_key_id(entry, warnings):
    """The key id a file holds, for reporting; None (with a warning) when it cannot be read."""
    result, error = on_file(entry, "state=read", operations.read_key)
    if error:
        warnings.append("could not read which key %s holds: %s" % (entry.path, error))
        return None
    return result["access_key_id"]


def inspect_file(entry, index, warnings):
    """What a file holds where it is declared to hold a key (operations.inspect_file), for the plan's holder
    checks; a file readable by every user is a warning, never changed by a read."""
    report, error = on_file(entry, "reading", operations.inspect_file)
    if error:
        return {"exists": None, "found": False, "error": error, "looks_like": None, "mode": None}
    if report["mode"] and int(report["mode"], 8) & 0o004:
        warnings.append("files[%d]: %s is readable by every user on the host (mode %s); rotor.iam keeps that mode "
                        "(set mode, e.g. '0600' or '0640', to change it)" % (index, entry.path, report["mode"]))
    report.pop("access_key_id", None)
    return report


def file_step(inputs, index, entry, check_mode, diff, now, warnings):
    """The state's work on one file, through the typed backend: (result, error message or None)."""
    state = inputs["state"]
    if state == "read":
        return on_file(entry, "state=read", operations.read_key)
    if state == "switched":
        return on_file(entry, "state=present", operations.write_key, inputs["access_key_id"],
                       inputs["secret_access_key"], check_mode=check_mode, diff=diff, backup=inputs["backup"],
                       warnings=warnings, now=now)
    if state == "restored":
        return on_file(entry, "state=restored", operations.restore_file, inputs["backup_files"][index],
                       inputs["backup_access_key_id"], check_mode=check_mode, diff=diff, warnings=warnings, now=now)
    return on_file(entry, "state=backups_absent", operations.remove_backups, check_mode=check_mode, diff=diff)


# --------------------------------------------------------------------------- the run


def _entry(path, access_key_id=None, changed=False, backup_file=None):
    return {"path": path, "access_key_id": access_key_id, "changed": changed, "backup_file": backup_file}


def empty_result(files):
    """The result of a run that did nothing, with RV(files) aligned with files whatever they are."""
    entries = [_entry(entry.get("path") if isinstance(entry, dict) else None) for entry in (files or [])] \
        if isinstance(files, list) else []
    return {"changed": False, "files": entries, "file_key_ids": [""] * len(entries), "key_ids": [],
            "wrote": False, "restored": False, "restarted": [], "attempts": 0, "status": None,
            "switched_at": None, "step": None, "failure": None}


def _fail(result, step, check, msg):
    result.update(failed=True, step=step, failure={"check": check, "msg": msg}, msg=msg)
    return result


def _finish(result, inputs, check_mode):
    ids = [entry["access_key_id"] or "" for entry in result["files"]]
    result["file_key_ids"] = ids
    result["key_ids"] = [key_id for index, key_id in enumerate(ids) if key_id and key_id not in ids[:index]]
    result["changed"] = any(entry["changed"] for entry in result["files"]) or bool(result["restarted"])
    if inputs["state"] == "switched" and not check_mode:
        result["wrote"] = inputs["access_key_id"] in ids
    return result


def _files_step(inputs, result, warnings, check_mode, diff, now):
    """Run the state on every file. switched stops at the first failure; the others try every file.

    Returns (step, check, msg) of the failure, or None.
    """
    state = inputs["state"]
    step, describe = FILE_STEPS[state]
    diffs, failures = [], []
    for index, entry in enumerate(inputs["files"]):
        file_warnings = []
        outcome, error = file_step(inputs, index, entry, check_mode, diff, now, file_warnings)
        warnings.extend("files[%d]: %s" % (index, warning) for warning in file_warnings)
        if error:
            failures.append((describe % entry.path, "files[%d]: %s" % (index, error) if len(inputs["files"]) > 1
                             else error))
            # What the file holds now (a read that failed would only fail again).
            result["files"][index] = _entry(entry.path, None if state == "read" else held_key_id(entry, warnings))
            if state == "read":
                result["files"][index].update(inspect_file(entry, index, []), error=error)
            if state == "switched":
                break
            continue
        if state == "backups_absent":
            key_id = held_key_id(entry, warnings)
        else:
            key_id = outcome.get("access_key_id")
        result["files"][index] = _entry(entry.path, key_id, bool(outcome.get("changed")), outcome.get("backup_file"))
        if state == "read":
            result["files"][index].update(inspect_file(entry, index, warnings))
        if outcome.get("diff"):
            diffs.append(outcome["diff"])
    # Files a failed switch did not reach: what they hold (a resumed run may have written them already).
    for index in range(len(result["files"])):
        if result["files"][index] is None:
            entry = inputs["files"][index]
            result["files"][index] = _entry(entry.path, held_key_id(entry, warnings))
    if diff:
        result["diff"] = diffs
    if state == "restored" and not check_mode:
        result["restored"] = any(entry["changed"] for entry in result["files"])
    if not failures:
        return None
    if len(failures) == 1:
        return (step,) + failures[0]
    checks = "; ".join(check for check, _msg in failures)
    return step, checks, "%d of %d files failed: %s" % (len(failures), len(inputs["files"]),
                                                        "; ".join(msg for _check, msg in failures))


def _expected_step(inputs, result):
    """Every file must hold expected_access_key_id (switched: or the new key, or no key where the entry may create
    one). Reads only; fills RV(files) with what each file holds. Returns (step, check, msg) of a mismatch, or None."""
    state, expected = inputs["state"], inputs["expected_access_key_id"]
    accepted = {expected, inputs["access_key_id"]} if state == "switched" else {expected}
    mismatches = []
    for index, entry in enumerate(inputs["files"]):
        outcome, error = on_file(entry, "state=read", operations.read_key)
        key_id = None if error else outcome["access_key_id"]
        result["files"][index] = _entry(entry.path, key_id)
        if error:
            mismatches.append((entry.path, "could not read which key %s holds: %s" % (entry.path, error)))
        elif key_id not in accepted and not (key_id is None and state == "switched" and entry.create):
            mismatches.append((entry.path, "%s holds %s, not the expected %s%s" % (
                entry.path, "access key id " + key_id if key_id else "no access key id", expected,
                " (or the new key %s)" % inputs["access_key_id"] if state == "switched" else "")))
    if not mismatches:
        return None
    done = "nothing was written or restarted" if state == "switched" else "no health check ran"
    return ("expected_key", "; ".join("checking which key %s holds" % path for path, _why in mismatches),
            "%s; %s (expected_access_key_id)" % ("; ".join(why for _path, why in mismatches), done))


def _health_step(runner, inputs, result):
    checks = inputs["health_check"]
    if not (checks["url"] or checks["command"]):
        return None
    try:
        result["attempts"], result["status"] = health.run_health_check(
            runner, checks["url"], checks["command"], checks["status_code"], checks["timeout"], checks["retries"],
            checks["delay"])
    except health.StepFailed as exc:
        result["attempts"], result["status"] = exc.attempts, exc.status
        return exc.step, exc.check, str(exc)
    return None


def _restart_step(runner, inputs, result):
    try:
        result["restarted"] = health.restart(runner, inputs["restart_services"], inputs["restart_command"])
    except health.StepFailed as exc:
        result["restarted"] = exc.restarted
        return exc.step, exc.check, str(exc)
    except health.HealthCheckError as exc:
        return "restart", "restarting %s" % ", ".join(health.planned_restarts(
            inputs["restart_services"], inputs["restart_command"])), str(exc)
    return None


def run(params, runner, check_mode=False, diff=False, now=None):
    """Do what the module parameters ask. Returns (result, warnings); the result has failed=True on failure.

    runner runs the restart and the health check: an object with run_command() and get_bin_path() like
    AnsibleModule. Never raises for anything the host or the input can do.
    """
    result, warnings = empty_result(params.get("files")), []
    try:
        inputs = check_inputs(params, check_mode)
    except InputError as exc:
        return _fail(result, "input", "checking the options", str(exc)), warnings
    warnings.extend(inputs["warnings"])
    state = inputs["state"]
    result["files"] = [None] * len(inputs["files"])
    failure = _expected_step(inputs, result) if inputs["expected_access_key_id"] else None
    if failure:
        result["files"] = [entry or _entry(inputs["files"][index].path) for index, entry in enumerate(result["files"])]
    elif state == "checked":
        if not inputs["expected_access_key_id"]:
            result["files"] = [_entry(entry.path, held_key_id(entry, warnings)) for entry in inputs["files"]]
        if not check_mode:
            failure = _health_step(runner, inputs, result)
    else:
        failure = _files_step(inputs, result, warnings, check_mode, diff, now)
        if state == "switched" and not failure and not check_mode:
            result["switched_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if state in ("switched", "restored") and not failure:
            if check_mode:
                result["restarted"] = health.planned_restarts(inputs["restart_services"], inputs["restart_command"])
            else:
                failure = _restart_step(runner, inputs, result) or _health_step(runner, inputs, result)
    _finish(result, inputs, check_mode)
    if failure:
        _fail(result, *failure)
    return result, warnings


# --------------------------------------------------------------------------- module shell


class _Runner:
    """The module's command runner, raising instead of exiting so the result keeps every key."""

    def __init__(self, module):
        self._module = module

    def run_command(self, args, **kwargs):
        return self._module.run_command(args, handle_exceptions=False, **kwargs)

    def get_bin_path(self, name, required=False):
        path = self._module.get_bin_path(name)
        if path is None and required:
            raise health.HealthCheckError("%s was not found on the host" % name)
        return path


def argument_spec():
    """Every entry of files is a credentials-file entry, health_check a health check: the specs rotor.iam's
    modules and role share (module_utils/_specs.py)."""
    return dict(
        files=dict(type="list", elements="dict", required=True, options=credentials_file_entry_spec()),
        state=dict(type="str", default="read", choices=list(STATES)),
        access_key_id=dict(type="str", no_log=False),
        secret_access_key=dict(type="str", no_log=True),
        backup=dict(type="bool", default=True),
        backup_files=dict(type="list", elements="str"),
        backup_access_key_id=dict(type="str", no_log=False),
        expected_access_key_id=dict(type="str", no_log=False),
        health_check=health_check_option(default={}),
        **restart_spec()
    )


class HostCredentialsModule(AnsibleModule):
    """AnsibleModule whose every failure masks URL credentials and keeps the result's keys.

    When AnsibleModule refuses an option (before main() runs), the refusal is said again by check_inputs, which
    names the entry (files[1].format) where AnsibleModule says "found in files", with step=input and RV(files).
    """

    _validated = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._validated = True

    def fail_json(self, msg, **kwargs):  # pylint: disable=arguments-differ
        params = self.params if isinstance(self.params, dict) else {}
        checks = params.get("health_check") if isinstance(params.get("health_check"), dict) else {}
        url = checks.get("url") if isinstance(checks.get("url"), str) else None
        # Masked by AnsibleModule in everything it returns, the invocation included.
        self.no_log_values.update(health.url_secrets(url))
        if not self._validated:
            try:
                check_inputs(params, self.check_mode)
            except InputError as exc:
                msg = str(exc)
            except Exception:  # pylint: disable=broad-except
                pass  # AnsibleModule's own message stands
            kwargs = _fail(empty_result(params.get("files")), "input", "checking the options", health.scrub(msg, url))
            msg = kwargs.pop("msg")
        super().fail_json(msg=msg, **kwargs)


def main():
    module = HostCredentialsModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    url = params["health_check"]["url"]
    try:
        result, warnings = run(params, _Runner(module), check_mode=module.check_mode, diff=module._diff)
    except Exception as exc:  # pylint: disable=broad-except
        message = health.scrub(unexpected_error_message("state=%s" % params["state"], exc), url)
        result, warnings = _fail(empty_result(params["files"]), None, "state=%s" % params["state"], message), []
    for warning in warnings:
        module.warn(warning)
    if result.get("failed"):
        # Outside the except block: the message says it all, no traceback is attached.
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
