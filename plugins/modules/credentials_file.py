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
    manage (other profiles, other keys, comments, line order, numbers as written) is kept as it was. Each edit
    is checked by reading the result back the way the file's consumer reads it; if anything but the key would
    read differently, nothing is written.
  - Writes are atomic. A temporary file is created with mode V(0600) in the same directory, written,
    flushed to disk, given its owner, group and mode, and renamed over the file. The secret is never
    readable by other users, not even for a moment.
  - The directory of the file may belong to another account (the service that uses the key). The module works
    through open directory descriptors and never follows a link that account could have made; see O(path) and
    the collection's C(docs/security.md).
  - Runs on the managed host with the Python standard library only; it does not need boto3.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  path:
    description:
      - Absolute path of the credentials file on the managed host, for example C(/root/.aws/credentials).
      - The directory must already exist. Directories on the way may belong to anyone; the module walks them
        one at a time without following symbolic links.
      - If O(path) (or a directory on the way) is a symbolic link, it is followed only when the link is owned by
        root (or the user the module runs as), and the directory holding it and every directory its target passes
        through are owned by root (or that user) and writable by no one else. Otherwise the module fails, naming
        the link and the reason. A followed link is kept; the file it points to is replaced, and backups are kept
        next to that file.
      - Only a regular file with a single hard link is read or replaced.
    type: path
    required: true
  state:
    description:
      - V(present) writes O(access_key_id) and O(secret_access_key) into the file, creating the file
        (and, for V(aws_credentials), the profile) if needed.
      - V(read) changes nothing and returns the access key id the file holds in RV(access_key_id), and whether the
        file exists in RV(exists). With O(backup_access_key_id), it reads the newest of this module's backups of
        O(path) that holds that key id instead, see O(backup_access_key_id).
      - V(restored) puts the file back exactly as it was before an earlier O(state=present) write (content, mode,
        owner and group, taken from the backup file's own metadata) from the backup O(backup_file), by default the
        newest backup of O(path) made by this module, or the newest one holding O(backup_access_key_id) when that
        is given. If the file did not exist before that write, restoring removes it. The backup restored from
        (and any other backup identical to it) is then removed, so rolled-back runs leave no backups behind.
        Restoring again once that backup is gone changes nothing, provided the file holds O(backup_access_key_id)
        (or was restored from a marker of an absent file).
        O(format), O(profile) and O(variable_names) are used to find and report the key ids.
      - V(backups_absent) removes every backup (and leftover temporary file) this module made of O(path), so
        no old secret stays on the host. Use it once a rotation has succeeded.
    type: str
    choices: [present, read, restored, backups_absent]
    default: present
  format:
    description:
      - Layout of the file.
      - V(aws_credentials) is the INI file read by the AWS CLI and SDKs, read exactly as botocore reads it
        (C(botocore.configloader.raw_config_parse)), with no inline comments, C(=) or C(:) between key and value,
        continuation lines and values inherited from C([DEFAULT]). A file botocore cannot parse (duplicate profiles or keys, a byte-order mark,
        a line that is neither header, setting nor comment) is refused. The key is written as
        C(aws_access_key_id) and C(aws_secret_access_key) in the section named O(profile); a value inherited from
        C([DEFAULT]) is overridden by writing the profile's own. The section is appended if missing.
      - V(env) is a file of C(NAME=value) lines read exactly as systemd reads C(EnvironmentFile=) (systemd.exec(5)),
        with single and double quotes, backslash escapes and continuation lines, the last assignment wins. Where systemd
        and this module could disagree, the file is refused, namely C(export NAME=) for a managed name (systemd ignores
        the line), a comment ending in a backslash (read differently before and after systemd v254), control
        characters in a managed value. Every assignment of a managed name is updated; missing ones are appended.
      - V(json) is a JSON object. The two keys are set at the top level, editing only their values, so other keys,
        their order, spacing and numbers stay exactly as written. A file where a managed key name sits in a nested
        object (for example C($.Credentials.AccessKeyId)) is refused, naming that path.
      - Files must be UTF-8 without a byte-order mark and without NUL bytes.
    type: str
    choices: [aws_credentials, env, json]
    default: aws_credentials
  profile:
    description:
      - Section (profile) of the V(aws_credentials) file to manage, without brackets, exactly as it appears in the
        file (profiles are case-sensitive).
      - An empty profile and V(DEFAULT) are refused; V(DEFAULT) holds values inherited by every profile.
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
      - The access key id to write, V(AKIA) or V(ASIA) followed by 16 upper-case letters or digits.
      - Required when O(state=present).
      - In check mode only, a placeholder of the form V(NEW-KEY-OF-<IAM user name>) is also accepted, as the
        C(rotor.iam.rotate) role passes in check mode for a key it has not created yet. Check mode writes nothing,
        so the placeholder never reaches a file; outside check mode it is refused.
    type: str
  backup_access_key_id:
    description:
      - An access key id (same format as O(access_key_id)).
      - With O(state=restored) and no O(backup_file), restore the newest backup that holds this access key id (or,
        when none does and the newest backup marks a file that did not exist, remove the file). When no backup
        holds it and the file already holds it, nothing changes; otherwise the module fails, changing nothing.
      - With O(state=read), read the newest of this module's backups of O(path) whose content holds this key id,
        and return RV(access_key_id), RV(backup_file) and, with O(return_secret=true), RV(secret_access_key) from
        it. This is how a rotation proves that AWS rejects an old key after deactivating it, with the old secret
        that only the hosts' backups still hold. Fails, with no secret in the message, when no backup holds it.
    type: str
    version_added: 0.2.0
  return_secret:
    description:
      - With O(state=read), also return the secret access key the file (or, with O(backup_access_key_id), the
        backup) holds, in RV(secret_access_key).
      - Meant for resuming an interrupted rotation, when the new key's secret survives only on the hosts, and for
        proving an old key is rejected. Always set C(no_log) on a task that uses it.
    type: bool
    default: false
    version_added: 0.2.0
  secret_access_key:
    description:
      - The secret access key to write, printable ASCII without spaces. It is never logged or shown in a diff,
        and returned only by O(state=read) with O(return_secret=true).
      - Required when O(state=present).
    type: str
  owner:
    description:
      - User (name or numeric uid) that should own the file. A uid above 4294967294 is refused before anything is
        written.
      - If not given, an existing file keeps its owner and a new file is owned by the user the module runs as.
    type: str
  group:
    description:
      - Group (name or numeric gid) that should own the file.
      - If not given, an existing file keeps its group and a new file gets the module user's group.
    type: str
  mode:
    description:
      - Permissions of the file, as an octal string such as V('0600') or V('640'), or an integer that is a plain
        permission (YAML reads an unquoted V(0640) as the integer 416).
      - An unquoted number such as V(600) or V(644), which YAML reads as decimal, is refused with a hint to quote
        it. The setuid, setgid and sticky bits, modes the owner cannot read, and modes that let every user write
        are refused. Symbolic modes such as C(u=rw) are not supported.
      - If not given, an existing file keeps its mode and a new file is created with V(0600). A mode (given or kept)
        that lets the group write or other users read triggers a warning; the module never changes a mode it was
        not given.
    type: raw
  create:
    description:
      - With O(state=present), allow writing where no access key id is yet - a file that does not exist, an
        O(profile) that is not in the file, or O(variable_names) that are not in it - for a new consumer, on purpose.
      - When V(false), such a write fails, changing nothing, with a message that names the file and what is missing.
        So a typo in O(path), a wrong O(profile) or a wrong O(format) never adds a key where no application reads it.
    type: bool
    default: false
    version_added: 0.4.0
  backup:
    description:
      - Before changing the file, keep a copy of it next to the file, with the file's owner, group and mode, named
        C(<file>.<UTC timestamp>.<previous key id>.rotor-iam-backup). The name never holds a secret; the key id is
        left out when the value in the file does not look like an access key id.
      - When the file did not exist yet, an empty marker C(<file>.<timestamp>.absent.rotor-iam-backup) is left
        instead, so that O(state=restored) removes the new file.
      - If the write fails after the backup was made, the backup is removed again. No backup is made when nothing
        changes.
    type: bool
    default: true
  backup_file:
    description:
      - With O(state=restored), the backup to restore, typically RV(backup_file) returned by an earlier
        O(state=present) task.
      - It must be one of this module's backups of O(path), in the directory of the file, that is a regular file with one
        link, owned by root, the user the module runs as or the file's owner, and not dated in the future.
        Anything else is refused.
      - Defaults to the newest backup of O(path) made by this module.
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
    replaces, and never puts file content in its result, except RV(secret_access_key) when O(return_secret=true).
  - A value in the access key id slot of a file that does not look like an access key id is never returned, printed
    or put in a file name; O(state=read) fails with I(value withheld), O(state=present) replaces it with a warning.
  - With C(--diff) the module shows only the managed entries, the access key id and a redacted secret
    (C(aws_secret_access_key = ********)), plus the file's mode, owner and group. Other secrets in the file are
    not shown.
  - Parse errors name the path, the format and the line number, not the line's text. Any failure leaves the host's
    files as they were.
  - Files named like backups that are not this module's own (links, files owned by another account, files dated in
    the future) are ignored with a warning.
  - Backups hold the previous secret. Remove them with O(state=backups_absent) once the new key is known to work.
  - Only standard library Python is needed on the managed host.
  - The collection's C(docs/security.md) states the threat model and what each host-side module refuses and why.
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
    create: true  # a new consumer: the file does not exist yet
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

- name: Read the old key from the newest backup that holds it (to prove AWS now rejects it)
  rotor.iam.credentials_file:
    path: /root/.aws/credentials
    profile: backup-agent
    state: read
    backup_access_key_id: "{{ old_key_id }}"
    return_secret: true
  register: old_key
  no_log: true

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
      With O(backup_access_key_id), the key id of the backup read.
    - With O(state=restored), the access key id in the restored file; V(null) if restoring removed the file.
  returned: when O(state) is V(present), V(read) or V(restored)
  type: str
  sample: AKIAIOSFODNN7EXAMPLE
previous_access_key_id:
  description:
    - The access key id that was in the file before this task; V(null) if there was none (or the value there did
      not look like an access key id).
    - In check mode, the id that would be replaced.
  returned: when O(state) is V(present) or V(restored)
  type: str
  sample: AKIAI44QH8DHBEXAMPLE
backup_file:
  description:
    - With O(state=present), the backup made before the change (or the marker left when the file did not exist);
      V(null) if none was made (nothing changed, O(backup=false), or check mode).
    - With O(state=restored), the backup that was (or in check mode would be) restored, and then removed; V(null)
      when nothing needed restoring.
    - With O(state=read) and O(backup_access_key_id), the backup that was read.
  returned: when O(state) is V(present) or V(restored), or O(state=read) with O(backup_access_key_id)
  type: str
  sample: /root/.aws/credentials.20261125T214300123456Z.AKIAI44QH8DHBEXAMPLE.rotor-iam-backup
secret_access_key:
  description: The secret access key the file (or the backup read) holds; V(null) if none. Only with O(return_secret=true).
  returned: when O(state=read) and O(return_secret=true)
  type: str
  sample: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
exists:
  description: Whether the file exists.
  returned: when O(state=read)
  type: bool
  sample: true
removed:
  description:
    - With O(state=backups_absent), the backups and leftover temporary files removed (in check mode, that would be
      removed).
    - With O(state=restored), the backups removed after the restore (in check mode, that would be removed).
    - A part of an old backup's name that is not an access key id is shown as V(WITHHELD).
  returned: when O(state) is V(backups_absent) or V(restored)
  type: list
  elements: str
  sample:
    - /root/.aws/credentials.20261125T214300123456Z.AKIAI44QH8DHBEXAMPLE.rotor-iam-backup
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import CredentialsFileError
from ansible_collections.rotor.iam.plugins.module_utils._credfile.operations import STATES
from ansible_collections.rotor.iam.plugins.module_utils._credfile.operations import run
from ansible_collections.rotor.iam.plugins.module_utils._specs import credentials_file_entry_spec


def argument_spec():
    """The file (the credentials-file entry every rotor.iam module shares) and what to do with it."""
    return dict(
        credentials_file_entry_spec(),
        state=dict(type="str", default="present", choices=list(STATES)),
        access_key_id=dict(type="str", no_log=False),
        secret_access_key=dict(type="str", no_log=True),
        backup=dict(type="bool", default=True),
        backup_file=dict(type="path"),
        return_secret=dict(type="bool", default=False),
        backup_access_key_id=dict(type="str", no_log=False),
    )


def unexpected_error_message(state, path, exc):
    """A clear one-line message for an error no check anticipated; no file content, no traceback."""
    if isinstance(exc, OSError):
        detail = exc.strerror or exc.__class__.__name__
        if exc.filename:
            detail += " (%s)" % exc.filename
    else:
        detail = exc.__class__.__name__
    return "state=%s on %s failed: %s" % (state, path, detail)


class CredentialsFileModule(AnsibleModule):
    """AnsibleModule without its automatic path info.

    That would stat O(path) again, following links, in a directory another account may control; the module
    reports what it checked itself.
    """

    def add_path_info(self, kwargs):
        return kwargs


def main():
    module = CredentialsFileModule(
        argument_spec=argument_spec(),
        required_if=[("state", "present", ("access_key_id", "secret_access_key"))],
        supports_check_mode=True,
    )
    try:
        result, warnings = run(module.params, check_mode=module.check_mode, diff=module._diff)
    except CredentialsFileError as exc:
        result, warnings = {"failed": True, "msg": str(exc)}, []
    except Exception as exc:  # pylint: disable=broad-except
        result, warnings = {"failed": True, "msg": unexpected_error_message(
            module.params["state"], module.params["path"], exc)}, []
    if result.get("failed"):
        # Outside the except block: the message says it all, no traceback is attached.
        module.fail_json(msg=result["msg"], path=module.params["path"])
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
