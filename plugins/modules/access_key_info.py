#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: access_key_info
short_description: List access keys of an IAM user, of several users or of the whole account, with age and last use
version_added: 0.1.0
description:
  - With O(user_name), lists the access keys of one IAM user, oldest first, with each key's status, creation date,
    age in days and when, where and for which service it was last used (from C(GetAccessKeyLastUsed)).
  - With O(all_users=true) or O(user_names), answers from the account's credential report instead
    (C(GetCredentialReport), and C(GenerateCredentialReport) polled until COMPLETE when there is no report or it is
    older than O(report_max_age)). That is one or a few calls for the whole account, whatever its size.
  - The credential report names keys by position (RV(access_keys[].position) 1 or 2), not by id. Key ids are looked
    up with C(ListAccessKeys), one call per user, for the users of O(user_names) and of O(resolve_key_ids_for);
    the other keys have RV(access_keys[].access_key_id=null).
  - With O(max_age_days), marks each Active key that is due for rotation in RV(access_keys[].rotation_due).
  - Never returns secret access keys; AWS only returns a secret once, when a key is created.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  user_name:
    description:
      - Name of the IAM user whose keys to list, with C(ListAccessKeys) and C(GetAccessKeyLastUsed).
      - Exactly one of O(user_name), O(user_names) and O(all_users=true) is required.
    type: str
    aliases: [user]
  user_names:
    version_added: 0.2.0
    description:
      - Names of the IAM users whose keys to list, from the credential report; their key ids are looked up with
        C(ListAccessKeys) (one call per user).
      - A user that does not exist fails the task, naming the user.
    type: list
    elements: str
  all_users:
    version_added: 0.2.0
    description:
      - List the keys of every IAM user of the account (and of the root user, as C(<root_account>)), from the
        credential report.
    type: bool
    default: false
  resolve_key_ids_for:
    version_added: 0.2.0
    description:
      - With O(all_users=true), IAM users whose keys also get their ids, with C(ListAccessKeys) (one call per user).
      - A user of this list that does not exist is returned in RV(missing_users) rather than failing the task.
    type: list
    elements: str
    default: []
  max_age_days:
    description:
      - Rotation policy, in days. An Active key at least this old gets RV(access_keys[].rotation_due=true).
      - When not set, RV(access_keys[].rotation_due) is not returned.
    type: int
  include_last_used:
    description:
      - With O(user_name), look up each key's last use with C(iam:GetAccessKeyLastUsed), one call per key.
      - Set to V(false) to save those calls when only ids, status and age matter.
      - The credential report always carries last use, so this does not apply to O(user_names) and O(all_users).
    type: bool
    default: true
  skip_last_used_for:
    description:
      - With O(user_name) and O(include_last_used=true), key ids whose last use is not looked up (one
        C(iam:GetAccessKeyLastUsed) saved per key). rotor.iam.rotate gives the keys its hosts hold, since the plan
        decides nothing from their last use. Their RV(access_keys[].last_used_date) is then not returned.
      - Elements may also be lists of key ids (one per host), which are flattened.
    type: list
    elements: raw
    default: []
    version_added: 0.4.0
  owners_of:
    description:
      - With O(user_name), access key ids (elements may be lists of them, one per host) whose owning IAM user is looked
        up with C(iam:GetAccessKeyLastUsed), which names the user of any key of the account, when they are not keys
        of O(user_name). rotor.iam.rotate gives the keys the user's hosts hold, to name the user a foreign key
        belongs to. The answer is in RV(key_owners). Values that are not access key ids are ignored.
    type: list
    elements: raw
    default: []
    version_added: 0.4.0
  include_tags:
    version_added: 0.3.0
    description:
      - Also return each user's IAM tags (RV(users[].tags), or RV(tags) with O(user_name)), with C(iam:ListUserTags),
        one call per user (IAM allows 50 tags per user and the module asks for 100 a page). The credential report
        has no tags.
      - This is what the C(rotor.iam.audit) role reads the users' own policy from (C(rotor:exempt),
        C(rotor:exempt-until), C(rotor:owner), C(rotor:max-age-days)).
      - A user whose tags cannot be read (deleted since the credential report, or access denied) gets
        RV(users[].tags=null) and a reason in RV(users[].tags_error); the other users are still read.
        Throttling is retried with backoff; when the retries run out, the task fails.
    type: bool
    default: false
  report_max_age:
    version_added: 0.2.0
    description:
      - With O(user_names) or O(all_users), the oldest credential report, in seconds, to answer from. An older
        report (or none) makes the module call C(GenerateCredentialReport) and wait for the new one.
      - IAM generates a new report at most every 4 hours; below V(14400) the report may still be older than
        asked, and the module warns.
    type: int
    default: 14400
  report_timeout:
    version_added: 0.2.0
    description:
      - Seconds to wait for IAM to finish generating the credential report.
    type: int
    default: 300
extends_documentation_fragment:
  - rotor.iam.user_target
  - rotor.iam.attributes.INFO_MODULE
  - rotor.iam.attributes.ACTION_GROUP
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - With O(user_name), needs C(iam:ListAccessKeys) and, with O(include_last_used=true), C(iam:GetAccessKeyLastUsed).
  - With O(user_names) or O(all_users), needs C(iam:GetCredentialReport) and C(iam:GenerateCredentialReport)
    (resource C(*)), and C(iam:ListAccessKeys) for the users whose key ids are looked up.
  - "IAM calls with O(all_users=true): one C(GetCredentialReport) when the current report is recent enough; otherwise
    C(GetCredentialReport), C(GenerateCredentialReport) until COMPLETE (usually 1 or 2) and C(GetCredentialReport)
    again; plus one C(ListAccessKeys) per user in O(resolve_key_ids_for), and with O(include_tags=true) one
    C(ListUserTags) per user (RV(user_tags_calls) counts them)."
  - With O(include_tags=true), needs C(iam:ListUserTags) on the users.
  - Check mode changes nothing; the module still asks IAM to generate a credential report when needed, which
    changes no IAM resource.
seealso:
  - module: rotor.iam.access_key_create
  - module: rotor.iam.access_key_delete
"""

EXAMPLES = r"""
- name: List the keys of the app-backup user and flag those older than 90 days
  rotor.iam.access_key_info:
    user_name: app-backup
    max_age_days: 90
  register: backup_keys

- name: Show which keys are due
  ansible.builtin.debug:
    msg: "{{ backup_keys.access_keys | selectattr('rotation_due') | map(attribute='access_key_id') | list }}"

- name: Every key of the account, from the credential report, with ids for the users our hosts use
  rotor.iam.access_key_info:
    all_users: true
    max_age_days: 90
    resolve_key_ids_for: [app-backup, app-web]
  register: account_keys

- name: Users and positions of the keys due for rotation
  ansible.builtin.debug:
    msg: "{{ account_keys.access_keys | selectattr('rotation_due') | map(attribute='user_name') | list }}"

- name: Every key of the account, and every user's tags (one ListUserTags per user)
  rotor.iam.access_key_info:
    all_users: true
    include_tags: true
  register: account_keys_and_tags

- name: Owners of the users, from their rotor:owner tags
  ansible.builtin.debug:
    msg: "{{ account_keys_and_tags.users | selectattr('tags') | map(attribute='tags') | map(attribute='rotor:owner', default='') | list }}"

- name: Several users, ids included, from a report at most an hour old
  rotor.iam.access_key_info:
    user_names: [app-backup, app-web]
    report_max_age: 3600
"""

RETURN = r"""
user_name:
  description: The IAM user whose keys were listed.
  returned: when O(user_name) is set
  type: str
  sample: app-backup
key_owners:
  description:
    - With O(owners_of), each of those key ids that is not a key of O(user_name), and the IAM user that owns it; an
      empty string when no IAM user of the account has that key (deleted, or never existed), V(null) when the owner
      could not be looked up (for example access denied).
  returned: when O(user_name) is set
  type: dict
  sample: {AKIAI44QH8DHBEXAMPLE: other-app, AKIAIOSFODNN7EXAMPLE: ''}
access_keys:
  description:
    - With O(user_name), the user's access keys, oldest first.
    - With O(user_names) or O(all_users), the keys of each user in turn, by position (users whose ids were looked up
      oldest first).
  returned: always
  type: list
  elements: dict
  contains:
    access_key_id:
      description:
        - The access key id.
        - V(null) for keys from the credential report whose user is not in O(user_names) or O(resolve_key_ids_for).
      returned: always
      type: str
      sample: AKIAIOSFODNN7EXAMPLE
    user_name:
      description: The user the key belongs to.
      returned: always
      type: str
      sample: app-backup
    user:
      description: Same as RV(access_keys[].user_name), under the credential report's column name.
      returned: when O(user_names) or O(all_users) is set
      type: str
      sample: app-backup
    position:
      description:
        - The key's position in the credential report, V(1) (C(access_key_1)) or V(2) (C(access_key_2)).
        - V(null) for a key created after the report was generated.
      returned: when O(user_names) or O(all_users) is set
      type: int
      sample: 1
    active:
      description: Whether the key is Active.
      returned: when O(user_names) or O(all_users) is set
      type: bool
      sample: true
    last_rotated:
      description: When the key was created, ISO 8601 in UTC (the report's C(access_key_N_last_rotated)).
      returned: when O(user_names) or O(all_users) is set
      type: str
      sample: "2026-08-01T10:15:00+00:00"
    status:
      description: V(Active) or V(Inactive).
      returned: always
      type: str
      sample: Active
    create_date:
      description: When the key was created, ISO 8601 in UTC.
      returned: always
      type: str
      sample: "2026-08-01T10:15:00+00:00"
    age_days:
      description: Whole days since the key was created.
      returned: always
      type: int
      sample: 116
    last_used_date:
      description: When the key was last used, ISO 8601 in UTC; V(null) if never used (or unknown).
      returned: when O(include_last_used=true), or O(user_names) or O(all_users) is set
      type: str
      sample: "2026-11-24T08:00:00+00:00"
    last_used_service:
      description: The AWS service the key last called; V(null) if never used (or unknown).
      returned: when O(include_last_used=true), or O(user_names) or O(all_users) is set
      type: str
      sample: s3
    last_used_region:
      description: The region of the key's last use; V(null) if never used (or unknown).
      returned: when O(include_last_used=true), or O(user_names) or O(all_users) is set
      type: str
      sample: eu-west-1
    rotation_due:
      description: Whether the key is Active and at least O(max_age_days) old.
      returned: when O(max_age_days) is set
      type: bool
      sample: true
users:
  description: The users covered, in the report's order, including users without keys.
  returned: when O(user_names) or O(all_users) is set
  type: list
  elements: dict
  contains:
    user_name:
      description: The IAM user (C(<root_account>) for the account's root user).
      returned: always
      type: str
      sample: app-backup
    arn:
      description: The user's ARN; V(null) for a user created after the report.
      returned: always
      type: str
      sample: arn:aws:iam::123456789012:user/app-backup
    user_creation_time:
      description: When the user was created, ISO 8601 in UTC; V(null) for a user created after the report.
      returned: always
      type: str
      sample: "2025-01-10T09:00:00+00:00"
    access_key_count:
      description: How many access keys the user has.
      returned: always
      type: int
      sample: 2
    active_key_count:
      description: How many of them are Active.
      returned: always
      type: int
      sample: 1
    tags:
      description:
        - The user's IAM tags, tag key to value.
        - V(null) when they could not be read (see RV(users[].tags_error)). Not returned for C(<root_account>).
      returned: when O(include_tags=true)
      type: dict
      sample: {"rotor:owner": "payments@example.com", "rotor:max-age-days": "30"}
    tags_error:
      description: Why the user's tags could not be read.
      returned: when O(include_tags=true) and the tags could not be read
      type: str
      sample: IAM user 'app-old' does not exist
tags:
  description: The IAM tags of O(user_name), tag key to value.
  returned: when O(user_name) and O(include_tags=true) are set
  type: dict
  sample: {"rotor:exempt": "vendor appliance, cannot reload keys", "rotor:exempt-until": "2027-03-31"}
user_tags_calls:
  description: How many C(iam:ListUserTags) calls reading the tags took (one per user).
  returned: when O(include_tags=true)
  type: int
  sample: 1000
missing_users:
  description: Users of O(resolve_key_ids_for) that do not exist in IAM.
  returned: when O(all_users=true)
  type: list
  elements: str
  sample: [app-old]
report_generated_time:
  description: When IAM generated the credential report the answer comes from, ISO 8601 in UTC.
  returned: when O(user_names) or O(all_users) is set
  type: str
  sample: "2026-11-26T01:00:00+00:00"
report_age_seconds:
  description: Age of that report, in seconds, when the module ran.
  returned: when O(user_names) or O(all_users) is set
  type: int
  sample: 312
report_requested:
  description: Whether this run asked IAM for a fresh report (no report, or one older than O(report_max_age)).
  returned: when O(user_names) or O(all_users) is set
  type: bool
  sample: false
summary:
  description: Counts over RV(access_keys).
  returned: when O(user_names) or O(all_users) is set
  type: dict
  contains:
    users:
      description: Users covered.
      returned: always
      type: int
      sample: 1000
    access_keys:
      description: Access keys.
      returned: always
      type: int
      sample: 1200
    active_access_keys:
      description: Active access keys.
      returned: always
      type: int
      sample: 1100
    rotation_due:
      description: Active keys at least O(max_age_days) old (V(0) without O(max_age_days)).
      returned: always
      type: int
      sample: 42
"""

import re

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import describe_access_keys
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import get_access_key_owner
from ansible_collections.rotor.iam.plugins.module_utils.credential_report import ROOT_ACCOUNT
from ansible_collections.rotor.iam.plugins.module_utils.credential_report import describe_account_keys
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_tags
from ansible_collections.rotor.iam.plugins.module_utils.redact import withhold_options
from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import iam_client
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import list_user_tags
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import read_users_tags


def _warn(module, message):
    # AnsibleAWSModule.warn also copies warnings into exit_json(warnings=...), which ansible-core 2.19
    # reports as a deprecation on every run; the wrapped AnsibleModule's warn is enough.
    getattr(module, "_module", module).warn(message)


def _selection_error(params):
    """A message when not exactly one of user_name, user_names and all_users=true is given, else None."""
    chosen = [name for name in ("user_name", "user_names") if params[name] is not None]
    if params["all_users"]:
        chosen.append("all_users=true")
    if len(chosen) > 1:
        return (
            f"{' and '.join(chosen)} are mutually exclusive: use user_name for one user, user_names for several, "
            f"or all_users=true for every user of the account."
        )
    if not chosen:
        return "One of user_name, user_names or all_users=true is required: which users' access keys should be listed?"
    if params["resolve_key_ids_for"] and not params["all_users"]:
        return "resolve_key_ids_for only applies with all_users=true (user_names always looks up the ids of its users)."
    return None


def _numbers_error(params):
    for name in ("max_age_days", "report_max_age"):
        if params[name] is not None and params[name] < 0:
            return f"{name} must be 0 or more, got {params[name]}."
    if params["report_timeout"] <= 0:
        return f"report_timeout must be a positive number of seconds, got {params['report_timeout']}."
    for name in ("user_names", "resolve_key_ids_for"):
        blank = [index for index, value in enumerate(params[name] or []) if not (value or "").strip()]
        if blank:
            return f"{name} has an empty user name at position {blank[0]}; remove it or name the user."
    return None


def add_user_tags(client, users):
    """Each user's tags (``tags``, or None and ``tags_error``) in place; returns the ListUserTags calls made."""
    found = read_users_tags(client, [user["user_name"] for user in users if user["user_name"] != ROOT_ACCOUNT])
    for user in users:
        if user["user_name"] in found["tags"]:
            user["tags"] = shown_tags(found["tags"][user["user_name"]])
            if user["user_name"] in found["errors"]:
                user["tags_error"] = found["errors"][user["user_name"]]
    return found["calls"]


def _flat_key_ids(values):
    """Key ids from a list whose elements are key ids or lists of them (each host's)."""
    found = set()
    for value in values or []:
        for key_id in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(key_id, str) and key_id:
                found.add(key_id)
    return found


KEY_ID_RE = re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}\Z")


def key_owners(client, key_ids, own_key_ids):
    """{key id: owning user ('' when IAM has no such key, None when it cannot be told)} for ids not in own_key_ids."""
    owners = {}
    for key_id in sorted(k for k in key_ids if k not in own_key_ids and KEY_ID_RE.match(k)):
        try:
            owners[key_id] = get_access_key_owner(client, key_id)
        except RotorIAMError as exc:
            owners[key_id] = "" if exc.code == "NoSuchEntity" else None
    return owners


def _own_spec():
    """The module's own options (amazon.aws adds the connection options)."""
    return dict(argument_spec=dict(
        user_name=dict(type="str", aliases=["user"]),
        user_names=dict(type="list", elements="str"),
        all_users=dict(type="bool", default=False),
        resolve_key_ids_for=dict(type="list", elements="str", default=[], no_log=False),
        max_age_days=dict(type="int"),
        include_tags=dict(type="bool", default=False),
        include_last_used=dict(type="bool", default=True),
        skip_last_used_for=dict(type="list", elements="raw", default=[]),
        owners_of=dict(type="list", elements="raw", default=[]),
        report_max_age=dict(type="int", default=14400),
        report_timeout=dict(type="int", default=300),
    ))


def module_spec():
    """The module's options: its own, with the shared ``iam_user`` (amazon.aws adds the connection options)."""
    return with_user_target(_own_spec(), lock=False)


def execute(module):
    """The module's work: exits through ``module`` (a module run or its action plugin on the controller)."""
    withhold_options(module, "skip_last_used_for")
    params = module.params
    problem = _selection_error(params) or _numbers_error(params)
    if problem:
        module.fail_json(msg=problem)
    client = iam_client(module)

    def one_user():
        keys = describe_access_keys(
            client,
            params["user_name"],
            max_age_days=params["max_age_days"],
            include_last_used=params["include_last_used"],
            skip_last_used_for=_flat_key_ids(params["skip_last_used_for"]),
        )
        result = {"changed": False, "user_name": params["user_name"], "access_keys": keys,
                  "key_owners": key_owners(client, _flat_key_ids(params["owners_of"]), {k["access_key_id"] for k in keys})}
        if params["include_tags"]:
            tags, result["user_tags_calls"] = list_user_tags(client, params["user_name"])
            result["tags"] = shown_tags(tags)
        return result

    def from_report():
        found = describe_account_keys(
            client,
            user_names=None if params["all_users"] else params["user_names"],
            resolve_key_ids_for=params["resolve_key_ids_for"],
            max_age_days=params["max_age_days"],
            report_max_age=params["report_max_age"],
            report_timeout=params["report_timeout"],
        )
        for warning in found["warnings"]:
            _warn(module, warning)
        keys = found["access_keys"]
        result = {
            "changed": False,
            "access_keys": keys,
            "users": found["users"],
            "report_generated_time": found["report"]["generated_time"],
            "report_age_seconds": found["report"]["age_seconds"],
            "report_requested": found["report"]["requested"],
            "summary": {
                "users": len(found["users"]),
                "access_keys": len(keys),
                "active_access_keys": sum(1 for key in keys if key["active"]),
                "rotation_due": sum(1 for key in keys if key.get("rotation_due")),
            },
        }
        if params["all_users"]:
            result["missing_users"] = found["missing_users"]
        if params["include_tags"]:
            result["user_tags_calls"] = add_user_tags(client, found["users"])
        return result

    if params["user_name"] is not None:
        run(module, one_user, action="iam:ListAccessKeys")
    else:
        run(module, from_report, action="iam:GetCredentialReport")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
