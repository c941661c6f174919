#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: credentials_file
version_added: 0.1.0
short_description: Write, read, restore and clean up an AWS access key in a credentials file on a host
description:
  - Writes an AWS access key (id and secret) into a credentials file on the managed host, editing only
    the lines that hold the key, and keeps a backup so the previous file can be put back.
  - Three file formats are understood, see O(format). Everything in the file that this module does not
    manage (other profiles, other keys, comments, line order) is kept as it was.
  - Writes are atomic. A temporary file is created with mode V(0600) in the same directory, written,
    flushed to disk, given its owner, group and mode, and renamed over O(path). The secret is never
    readable by other users, not even for a moment.
  - Runs on the managed host with the Python standard library only; it does not need boto3.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  path:
    description:
      - Path of the credentials file on the managed host, for example C(/root/.aws/credentials).
      - The directory must already exist.
      - If O(path) is a symbolic link, the file it points to is read and replaced, and the link is kept.
        Backups are kept next to that file.
    type: path
    required: true
  state:
    description:
      - V(present) writes O(access_key_id) and O(secret_access_key) into the file, creating the file
        (and, for V(aws_credentials), the profile) if needed.
      - V(read) changes nothing and returns the access key id the file currently holds in RV(access_key_id),
        and whether the file exists in RV(exists).
      - V(restored) puts the file back exactly as it was before an earlier O(state=present) write (content, mode,
        owner and group) from the backup O(backup_file), by default the newest backup of O(path) made by this
        module, or the newest one holding O(backup_access_key_id) when that is given. If the file did not exist before that
        write, restoring removes it. Backups are kept.
        O(format), O(profile) and O(variable_names) are used only to report the key ids.
      - V(backups_absent) removes every backup (and leftover temporary file) this module made of O(path), so
        no old secret stays on the host. Use it once a rotation has succeeded.
    type: str
    choices: [present, read, restored, backups_absent]
    default: present
  format:
    description:
      - Layout of the file.
      - V(aws_credentials) is the INI file read by the AWS CLI and SDKs. The key is written as
        C(aws_access_key_id) and C(aws_secret_access_key) in the section named O(profile). The section
        is appended if missing. Lines are edited in place; the file is not re-serialised.
      - V(env) is a file of C(NAME=value) lines as read by systemd C(EnvironmentFile=). Single- and
        double-quoted values and an C(export) prefix are understood when reading. Existing assignments
        are updated in place (all of them if a name appears several times), missing ones are appended.
      - V(json) is a JSON object. The two keys are set at the top level; other keys are kept and their
        order is kept. The file is written again with the indentation it had.
    type: str
    choices: [aws_credentials, env, json]
    default: aws_credentials
  profile:
    description:
      - Section (profile) of the V(aws_credentials) file to manage, without brackets.
      - Used only with O(format=aws_credentials).
    type: str
    default: default
  variable_names:
    description:
      - Names under which the key is stored, for O(format=env) and O(format=json).
      - Not used with O(format=aws_credentials), which always uses C(aws_access_key_id) and C(aws_secret_access_key).
    type: dict
    suboptions:
      access_key_id:
        description:
          - Name of the access key id entry.
          - Defaults to V(AWS_ACCESS_KEY_ID) for O(format=env) and V(AccessKeyId) for O(format=json).
        type: str
      secret_access_key:
        description:
          - Name of the secret access key entry.
          - Defaults to V(AWS_SECRET_ACCESS_KEY) for O(format=env) and V(SecretAccessKey) for O(format=json).
        type: str
  access_key_id:
    description:
      - The access key id to write.
      - Required when O(state=present).
    type: str
  backup_access_key_id:
    description:
      - With O(state=restored) and no O(backup_file), restore the newest backup that holds this access key id (or,
        when none does and the newest backup marks a file that did not exist, remove the file).
      - Fails, changing nothing, when no backup holds it.
    type: str
    version_added: 0.2.0
  return_secret:
    description:
      - With O(state=read), also return the secret access key the file holds, in RV(secret_access_key).
      - Meant for resuming an interrupted rotation, when the new key's secret survives only on the hosts.
        Always set C(no_log) on a task that uses it.
    type: bool
    default: false
    version_added: 0.2.0
  secret_access_key:
    description:
      - The secret access key to write. It is never logged or shown in a diff, and returned only by O(state=read) with O(return_secret=true).
      - Required when O(state=present).
    type: str
  owner:
    description:
      - User (name or uid) that should own the file.
      - If not given, an existing file keeps its owner and a new file is owned by the user the module runs as.
    type: str
  group:
    description:
      - Group (name or gid) that should own the file.
      - If not given, an existing file keeps its group and a new file gets the module user's group.
    type: str
  mode:
    description:
      - Permissions of the file, as an octal number. Quote it in YAML, for example V('0600').
      - Symbolic modes such as C(u=rw) are not supported.
      - A mode that gives other users access triggers a warning.
    type: raw
    default: '0600'
  backup:
    description:
      - Before changing the file, keep a copy of it next to O(path) (same directory, mode V(0600), same owner
        and group as the file). The copy's name holds a timestamp and the previous access key id, never the secret.
      - When the file did not exist yet, an empty marker is left instead, so that O(state=restored) removes the
        new file.
      - No backup is made when nothing changes.
    type: bool
    default: true
  backup_file:
    description:
      - With O(state=restored), the backup to restore, typically RV(backup_file) returned by an earlier
        O(state=present) task.
      - Defaults to the newest backup of O(path) made by this module.
      - A file not made by this module is restored with its own content, mode, owner and group.
    type: path
attributes:
  check_mode:
    support: full
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    support: full
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  platform:
    support: full
    platforms: posix
    description: Target OS/families that can be operated against.
notes:
  - O(secret_access_key) is marked C(no_log). The module never returns a secret, neither the new one nor the one it
    replaces, and never puts file content in its result.
  - With C(--diff) the module shows only the managed entries, the access key id and a redacted secret
    (C(aws_secret_access_key = ********)), plus the file's mode, owner and group. Other secrets in the file are
    not shown.
  - Parse errors name the path, the format and the line number, not the line's text.
  - Backups hold the previous secret. They are created with mode V(0600); remove them with O(state=backups_absent)
    once the new key is known to work.
  - Only standard library Python is needed on the managed host.
"""

EXAMPLES = r"""
- name: Write the new key into root's AWS credentials file
  rotor.iam.credentials_file:
    path: /root/.aws/credentials
    profile: backup-agent
    access_key_id: "{{ new_key.access_key_id }}"
    secret_access_key: "{{ new_key.secret_access_key }}"
  register: written

- name: Write the key for a systemd unit (EnvironmentFile=/etc/backup-agent/aws.env)
  rotor.iam.credentials_file:
    path: /etc/backup-agent/aws.env
    format: env
    owner: root
    group: backup-agent
    mode: '0640'
    access_key_id: "{{ new_key.access_key_id }}"
    secret_access_key: "{{ new_key.secret_access_key }}"

- name: Write the key into an application's JSON settings under custom names
  rotor.iam.credentials_file:
    path: /opt/app/settings.json
    format: json
    variable_names:
      access_key_id: awsKeyId
      secret_access_key: awsSecret
    access_key_id: "{{ new_key.access_key_id }}"
    secret_access_key: "{{ new_key.secret_access_key }}"

- name: Learn which key id the host holds now
  rotor.iam.credentials_file:
    path: /root/.aws/credentials
    profile: backup-agent
    state: read
  register: current

- name: Put the previous file back (rollback)
  rotor.iam.credentials_file:
    path: /root/.aws/credentials
    profile: backup-agent
    state: restored
    backup_file: "{{ written.backup_file | default(omit, true) }}"

- name: After a successful rotation, remove the backups that hold the old secret
  rotor.iam.credentials_file:
    path: /root/.aws/credentials
    state: backups_absent
"""

RETURN = r"""
path:
  description: The O(path) the module worked on, as given.
  returned: always
  type: str
  sample: /root/.aws/credentials
access_key_id:
  description:
    - With O(state=present), the access key id now in the file.
    - With O(state=read), the access key id currently in the file; V(null) if the file, profile or entry is missing.
    - With O(state=restored), the access key id in the restored file; V(null) if restoring removed the file.
  returned: when O(state) is V(present), V(read) or V(restored)
  type: str
  sample: AKIAIOSFODNN7EXAMPLE
previous_access_key_id:
  description:
    - The access key id that was in the file before this task; V(null) if there was none.
    - In check mode, the id that would be replaced.
  returned: when O(state) is V(present) or V(restored)
  type: str
  sample: AKIAI44QH8DHBEXAMPLE
backup_file:
  description:
    - With O(state=present), the backup made before the change (or the marker left when the file did not exist);
      V(null) if none was made (nothing changed, O(backup=false), or check mode).
    - With O(state=restored), the backup that was (or in check mode would be) restored.
  returned: when O(state) is V(present) or V(restored)
  type: str
  sample: /root/.aws/credentials.20261125T214300123456Z.AKIAI44QH8DHBEXAMPLE.m0600.rotor-iam-backup
secret_access_key:
  description: The secret access key the file holds; V(null) if none. Only with O(return_secret=true).
  returned: when O(state=read) and O(return_secret=true)
  type: str
  sample: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
exists:
  description: Whether the file exists.
  returned: when O(state=read)
  type: bool
  sample: true
removed:
  description: Backups and leftover temporary files removed (in check mode, that would be removed).
  returned: when O(state=backups_absent)
  type: list
  elements: str
  sample:
    - /root/.aws/credentials.20261125T214300123456Z.AKIAI44QH8DHBEXAMPLE.m0600.rotor-iam-backup
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rotor.iam.plugins.module_utils._credentials_file import CredentialsFileError, run


def argument_spec():
    return dict(
        path=dict(type="path", required=True),
        state=dict(type="str", default="present", choices=["present", "read", "restored", "backups_absent"]),
        format=dict(type="str", default="aws_credentials", choices=["aws_credentials", "env", "json"]),
        profile=dict(type="str", default="default"),
        variable_names=dict(
            type="dict",
            options=dict(
                access_key_id=dict(type="str", no_log=False),
                secret_access_key=dict(type="str", no_log=False),
            ),
        ),
        access_key_id=dict(type="str", no_log=False),
        secret_access_key=dict(type="str", no_log=True),
        owner=dict(type="str"),
        group=dict(type="str"),
        mode=dict(type="raw", default="0600"),
        backup=dict(type="bool", default=True),
        backup_file=dict(type="path"),
        return_secret=dict(type="bool", default=False),
        backup_access_key_id=dict(type="str", no_log=False),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_if=[("state", "present", ("access_key_id", "secret_access_key"))],
        supports_check_mode=True,
    )
    try:
        result, warnings = run(module.params, check_mode=module.check_mode, diff=module._diff)
    except CredentialsFileError as exc:
        result, warnings = {"failed": True, "msg": str(exc)}, []
    if result.get("failed"):
        # Outside the except block: the message says it all, no traceback is attached.
        module.fail_json(msg=result["msg"], path=module.params["path"])
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
