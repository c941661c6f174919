#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: discover
version_added: 0.4.0
short_description: Find where AWS access key ids sit on a host, without reading a secret into the result
description:
  - Searches the usual places of a host for AWS access key ids and reports each one with its file, profile or
    variable, and the file's owner and mode. Read-only.
  - "The usual places (O(search)): V(aws), every account's C(~/.aws/credentials) and C(~/.aws/config) (every home
    directory of the passwd database, and C(/root)); V(environment), C(/etc/environment); V(systemd), the units and
    drop-ins of C(/etc/systemd/system), C(/run/systemd/system), C(/usr/local/lib/systemd/system),
    C(/usr/lib/systemd/system) and each account's C(~/.config/systemd/user): their C(Environment=) assignments and
    the files their C(EnvironmentFile=) names; V(docker), Compose files (C(compose.yaml), C(docker-compose.yml)...)
    up to three directories deep under C(/opt), C(/srv), C(/etc/docker) and each home directory, the C(.env) next to
    each, and the files their C(env_file:) entries name."
  - Then the files, directories (searched recursively) and globs of O(paths).
  - The hosts are assumed hostile. The module opens every file through directory descriptors with C(O_NOFOLLOW),
    follows a symbolic link only when root owns it and everything it passes through (never inside a directory it
    walks), reads only regular files with one link and at most O(max_file_bytes) bytes. What it does not read
    (a link an account controls, a FIFO, a device, a file too big, with hard links, binary) is listed in
    RV(not_read) with the reason.
  - Only key ids, line numbers and the names of profiles and variables are returned. A key-id slot
    (C(aws_access_key_id), C(AWS_ACCESS_KEY_ID), C(AccessKeyId)...) holding anything that is not an access key id is
    reported in RV(problems) with the value withheld, since it may be a secret put there by mistake. A name or path
    component that looks like a secret is withheld too.
  - The playbook C(rotor.iam.discover) runs this module on every host and joins what it finds with IAM (the user
    of each key, its age and last use) into a consumer map.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  paths:
    description:
      - Absolute paths of files, directories or globs (C(*), C(?), C([...]); C(**) recursive) to search besides the
        usual places. A directory is searched recursively, at most O(max_depth) levels and O(max_files) files.
      - Must be a list of strings; a string fails with a message saying so (Ansible would otherwise split it at
        commas), as does a relative path.
    type: raw
    default: []
  search:
    description:
      - Which usual places to search; V([]) searches only O(paths).
    type: list
    elements: str
    choices: [aws, environment, systemd, docker]
    default: [aws, environment, systemd, docker]
  max_file_bytes:
    description:
      - Larger files are not read (listed in RV(not_read)). At most 1048576.
    type: int
    default: 1048576
  max_files:
    description:
      - A directory of O(paths) holding more regular files than this fails the task, naming it.
    type: int
    default: 10000
  max_glob_matches:
    description:
      - A glob of O(paths) matching more paths than this fails the task, naming it.
    type: int
    default: 1000
  max_depth:
    description:
      - How many directory levels below a directory of O(paths) are searched.
    type: int
    default: 8
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: This module only reads, so it runs normally in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
  platform:
    support: full
    platforms: posix
    description: Target OS/families that can be operated against.
notes:
  - Run it as root (C(become)) to search every account's files; as another user it reports what that user can read.
  - It finds keys in files. A key held only in a process's memory, a secret store, a CI system or another machine
    is not on the host; the consumer map's C(seen_in_aws_only) list (the playbook's) helps find those.
  - Commented-out lines are not reported. Compose C(env_file:) entries are followed when they are plain paths
    (not interpolated).
  - Only standard library Python is needed on the managed host.
seealso:
  - module: rotor.iam.access_key_info
  - module: rotor.iam.credentials_file
"""

EXAMPLES = r"""
- name: Find the access key ids on the hosts, in the usual places and under /opt/app
  rotor.iam.discover:
    paths:
      - /opt/app
      - /etc/myapp/*.env
  become: true
  register: discovered

- name: Show them (key ids, files and owners; never a secret)
  ansible.builtin.debug:
    msg: "{{ discovered.found | map(attribute='access_key_id') | unique }}"

- name: Only the given files, none of the usual places
  rotor.iam.discover:
    paths: [/srv/app/credentials]
    search: []
"""

RETURN = r"""
found:
  description: Each access key id found, where it sits. Sorted by path and line.
  returned: always
  type: list
  elements: dict
  contains:
    access_key_id:
      description: The key id.
      type: str
      sample: AKIAIOSFODNN7EXAMPLE
    path:
      description: The file (links resolved).
      type: str
      sample: /home/app/.aws/credentials
    source:
      description: >-
        Which search found it: V(aws_credentials), V(aws_config), V(environment) (C(/etc/environment)), V(systemd)
        (a unit's C(Environment=)), V(compose) (inline in a Compose file), V(env_file) (a unit's C(EnvironmentFile=), a
        Compose C(.env) or C(env_file:)), V(path) (from O(paths)).
      type: str
      sample: aws_credentials
    format:
      description: >-
        The M(rotor.iam.credentials_file) format the file can be rotated as (V(aws_credentials), V(env), V(json)), or
        null when the key is inline in a unit or Compose file, which rotor.iam does not edit.
      type: str
      sample: aws_credentials
    profile:
      description: The INI section (C(default), C(profile build)) or null.
      type: str
      sample: default
    variable:
      description: The variable or option holding it (C(aws_access_key_id), C(AWS_ACCESS_KEY_ID)) or null.
      type: str
      sample: aws_access_key_id
    secret_variable:
      description: The name (never the value) of the secret's variable in the same profile or file, or null.
      type: str
      sample: aws_secret_access_key
    line:
      description: Line number (null inside a JSON document).
      type: int
      sample: 2
    owner:
      description: The file's owner.
      type: str
      sample: app
    group:
      description: The file's group.
      type: str
      sample: app
    uid:
      description: The file's owner's uid.
      type: int
      sample: 1001
    gid:
      description: The file's group's gid.
      type: int
      sample: 1001
    mode:
      description: The file's mode.
      type: str
      sample: "0600"
    readable_by_others:
      description: Whether every account on the host can read the file.
      type: bool
      sample: false
    temporary:
      description: Whether the id is of temporary credentials (C(ASIA...)), which expire rather than rotate.
      type: bool
      sample: false
access_key_ids:
  description: The distinct key ids found.
  returned: always
  type: list
  elements: str
  sample: [AKIAIOSFODNN7EXAMPLE]
problems:
  description: Key-id slots holding something that is not a key id (the value withheld), with path, line, profile, variable.
  returned: always
  type: list
  elements: dict
  sample:
    - path: /etc/app.env
      line: 1
      variable: AWS_ACCESS_KEY_ID
      profile: null
      source: path
      problem: >-
        AWS_ACCESS_KEY_ID holds a 40-character value shaped like a secret access key where the access key id belongs
        (value withheld): are the id and the secret swapped?
not_read:
  description: What was not read, and why (a link an account controls, a FIFO, a file too big, a missing path...).
  returned: always
  type: list
  elements: dict
  sample:
    - path: /home/eve/.aws/credentials
      reason: "a symbolic link owned by eve: not followed (the account that owns it could point it at any file)"
searched:
  description: How much was searched.
  returned: always
  type: dict
  sample: {files: 212, directories: 40, homes: 3, places: [aws, environment, systemd, docker], paths: 1}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rotor.iam.plugins.module_utils._discover.search import DiscoverInputError
from ansible_collections.rotor.iam.plugins.module_utils._discover.search import SEARCH_PLACES
from ansible_collections.rotor.iam.plugins.module_utils._discover.search import discover


def argument_spec():
    return dict(
        paths=dict(type="raw", default=[]),
        search=dict(type="list", elements="str", choices=list(SEARCH_PLACES), default=list(SEARCH_PLACES)),
        max_file_bytes=dict(type="int", default=1048576),
        max_files=dict(type="int", default=10000),
        max_glob_matches=dict(type="int", default=1000),
        max_depth=dict(type="int", default=8),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    try:
        result = discover(params["paths"], params["search"], params["max_file_bytes"], params["max_files"],
                          params["max_glob_matches"], params["max_depth"])
    except DiscoverInputError as exc:
        result = {"failed": True, "msg": str(exc)}
    except Exception as exc:  # pylint: disable=broad-except
        # A message without file content (OSError's text names the call and errno, never the file's bytes).
        result = {"failed": True, "msg": f"the search failed: {type(exc).__name__}: {getattr(exc, 'strerror', None) or ''}"}
    if result.get("failed"):
        module.fail_json(msg=result["msg"])
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
