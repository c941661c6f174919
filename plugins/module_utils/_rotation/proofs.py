# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): the key proofs.

Before an old key is deactivated, the secret that will prove it disabled is proven its own (it signs while the key
is Active); after a status change, AWS's view of the key is proven with that secret (or, for a key that was Inactive
already, with one read from a host's backup). The proofs are made by the role's module calls; this module says where
to read each key back from, which read proved a key, and what failed. It sees registered results, whose secrets it
never copies into the run record nor into a message.
"""

from __future__ import annotations


def key_proofs(outcome, plans, hosts, action, users=None, candidates=1):
    """Where to read each old key back from, to prove AWS's view of it after a status change: [{user, access_key_id,
    host, file}].

    For every user whose outcome is ``action`` (and who is in ``users`` when given): the old key id, a host of the
    user that keeps a backup holding it (one that switched to the new key, else any of its hosts; ``hosts``: the
    run's host states, each with the ``file`` it keeps its first credentials file in), up to ``candidates`` hosts per
    user, so a backup that cannot prove the key (a stale or rewritten secret) does not decide alone.
    """
    proofs = []
    chosen = None if users is None else set(users)
    hosts = dict(hosts or {})
    for user, entry in sorted(dict(outcome).items()):
        if entry.get("action") != action or (chosen is not None and user not in chosen):
            continue
        plan = plans[user]
        old = plan.get("old_key_id")
        if not old:
            continue
        switched = list(entry.get("switched_hosts") or [])
        in_order = switched + [h for h in plan.get("hosts") or [] if h not in switched]
        if plan.get("broken_hosts") and not any(old in (hosts.get(h) or {}).get("key_ids", []) for h in plan.get("hosts") or []):
            # Its hosts were on a key IAM no longer has: no host ever held the old key's secret, none can prove it.
            continue
        with_file = [h for h in in_order if (hosts.get(h) or {}).get("file")]
        for host in with_file[:max(1, int(candidates))]:
            proofs.append({"user": user, "access_key_id": old, "host": host, "file": dict(hosts[host]["file"])})
    return proofs


def _proof_of(check):
    return ((check.get("item") or {}).get("item") or {}) if isinstance(check, dict) else {}


def _why_not(check):
    read = check.get("item") or {}
    if check.get("skipped"):
        return f"its backup could not be read ({read.get('msg') or 'read failed'})"
    if check.get("error_code") == "WrongSecret":
        return "the secret in its backup is not the key's (AWS answered that the signature does not match)"
    return f"AWS did not accept the secret in its backup ({check.get('msg') or 'the proof failed'})"


def proven_secrets(checks):
    """Which read proved each user's old key its own, and the users none could be proven for.

    ``checks``: the registered results of the validity proofs (rotor.iam.access_key_verify, expect=valid), whose items
    are the registered backup reads (their items entries of ``key_proofs``). Returns {proven: {user: the proof entry of
    the first read AWS accepted}, failures: {user: message naming every host whose backup could not prove the key},
    unproven: {user: [hosts whose backup could not prove it, also for users proven from another host]}}; no secret.
    """
    proven, tried, unproven = {}, {}, {}
    for check in checks or []:
        proof = _proof_of(check)
        user, host = proof.get("user"), proof.get("host")
        if not user:
            continue
        tried.setdefault(user, [])
        if not check.get("skipped") and not check.get("failed"):
            proven.setdefault(user, dict(proof))
            continue
        tried[user].append((host, _why_not(check)))
        unproven.setdefault(user, []).append(host)
    failures = {}
    for user, attempts in tried.items():
        if user in proven or not attempts:
            continue
        key_id = next((_proof_of(c).get("access_key_id") for c in checks if _proof_of(c).get("user") == user), None)
        failures[user] = (f"could not prove the secret that would prove old key {key_id} disabled, so it is not deactivated: "
                          + "; ".join(f"on {host}, {why}" for host, why in attempts))
    return {"proven": proven, "failures": failures, "unproven": unproven}


def proof_failures(checks, expect):
    """{user: message} for the key proofs that did not confirm ``expect`` (invalid or valid).

    ``checks``: the registered results of the verify loop, whose items are the registered reads of the old key (their
    items entries of ``key_proofs``). A read that failed (no backup holds the key) skips its check and counts as a
    failed proof. Messages name key, host and wait, never a secret.
    """
    failures = {}
    what = "rejects the deactivated" if expect == "invalid" else "accepts the reactivated"
    for check in checks or []:
        read = check.get("item") or {}
        proof = read.get("item") or {}
        user, key_id, host = proof.get("user"), proof.get("access_key_id"), proof.get("host")
        if check.get("skipped"):
            failures[user] = (f"could not prove that AWS {what} key {key_id}: its secret could not be read from a backup on "
                              f"{host} ({read.get('msg') or 'read failed'})")
        elif check.get("failed") and check.get("error_code") == "WrongSecret":
            failures[user] = (f"could not prove that AWS {what} key {key_id}: the secret in the backup on {host} is not "
                              f"the key's (AWS answered that the signature does not match), so it proves nothing")
        elif check.get("failed"):
            failures[user] = (f"AWS did not confirm that it {what.split(' ', maxsplit=1)[0]} key {key_id} in time "
                              f"(proof made with the secret from {host}): {check.get('msg') or 'the proof failed'}")
    return failures
