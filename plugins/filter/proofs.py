# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters of the key proofs: which old keys get their secret proven before they are deactivated, and which
secret (proven to be the key's own) later proves them disabled or accepted again (roles/rotate/tasks/prove_*.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def _why_not(check):
    read = check.get("item") or {}
    if check.get("skipped"):
        return f"its backup could not be read ({read.get('msg') or 'read failed'})"
    if check.get("error_code") == "WrongSecret":
        return "the secret in its backup is not the key's (AWS answered that the signature does not match)"
    return f"AWS did not accept the secret in its backup ({check.get('msg') or 'the proof failed'})"


def proven_secrets(checks):
    """One secret per user proven to be its old key's own, and the users none could be proven for.

    ``checks``: the registered results of the validity proofs (rotor.iam.access_key_verify, expect=valid), whose items
    are the registered backup reads (their items the entries of C(rotor.iam.key_proofs)). Returns
    {reads: [the first read of each user whose secret AWS accepted, in the shape of a registered read], failures:
    {user: message naming every host whose backup could not prove the key, never a secret}, unproven: {user: [hosts]}
    (hosts whose backup could not prove it, also for users proven from another host)}.
    """
    reads, failures, unproven, tried = [], {}, {}, {}
    proven = set()
    try:
        for check in checks or []:
            read = check.get("item") or {}
            proof = read.get("item") or {}
            user, host = proof.get("user"), proof.get("host")
            if not user:
                continue
            tried.setdefault(user, [])
            if not check.get("skipped") and not check.get("failed"):
                if user not in proven:
                    proven.add(user)
                    reads.append({"item": dict(proof), "secret_access_key": read.get("secret_access_key")})
                continue
            tried[user].append((host, _why_not(check)))
            unproven.setdefault(user, []).append(host)
        for user, attempts in tried.items():
            if user in proven or not attempts:
                continue
            key_id = next((((c.get("item") or {}).get("item") or {}).get("access_key_id") for c in checks
                           if (((c.get("item") or {}).get("item") or {}).get("user")) == user), None)
            failures[user] = (f"could not prove the secret that would prove old key {key_id} disabled, so it is not deactivated: "
                              + "; ".join(f"on {host}, {why}" for host, why in attempts))
    except (TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"rotor.iam.proven_secrets: malformed input ({exc})") from exc
    return {"reads": reads, "failures": failures, "unproven": unproven}


def proven_reads(proven, users):
    """The proven reads (C(rotor.iam.proven_secrets)) of ``users``, in the shape of registered backup reads."""
    try:
        chosen = set(users or [])
        return [read for read in (dict(proven or {}).get("reads") or []) if read["item"]["user"] in chosen]
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"rotor.iam.proven_reads: malformed input ({exc})") from exc


class FilterModule:
    def filters(self):
        return {
            "proven_secrets": proven_secrets,
            "proven_reads": proven_reads,
        }
