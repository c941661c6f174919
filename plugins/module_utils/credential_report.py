# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The IAM credential report: fetch it (generating a fresh one when needed), parse its CSV, and turn
its rows into access key entries like those of ``access_keys.describe_access_keys``.

One report answers for every user of the account in one or two calls, where per-user listing would
take one ``ListAccessKeys`` and two ``GetAccessKeyLastUsed`` calls per user. The report has no key ids:
it names keys by position (``access_key_1``, ``access_key_2``); ``resolve_key_ids`` maps positions back
to ids with ``ListAccessKeys`` for the few users that need them.
"""

from __future__ import annotations

import csv
import io
import time

try:
    import botocore
except ImportError:
    pass  # the modules report a missing botocore through AnsibleAWSModule

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import age_days
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import as_datetime
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import error_code
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import explain_client_error
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import iso
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import list_access_keys
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import utcnow

ROOT_ACCOUNT = "<root_account>"
KEY_POSITIONS = (1, 2)
# GetCredentialReport errors that mean "generate one first".
_NO_REPORT_CODES = frozenset(("ReportNotPresent", "ReportExpired", "ReportInProgress"))
_ACCESS_DENIED_CODES = frozenset(("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"))
# Cells that mean "nothing here": AWS writes N/A and no_information; moto writes not_supported.
_EMPTY_CELLS = frozenset(("", "N/A", "n/a", "not_supported", "no_information"))
# Seconds between GenerateCredentialReport polls: short first (small accounts finish at once), then backing off.
_POLL_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
# A key listed by ListAccessKeys and a report position are the same key when their creation times agree.
_SAME_KEY_SECONDS = 2


def cell(value):
    """A report cell, or None when it says the value is absent or unknown."""
    if value is None:
        return None
    value = value.strip()
    return None if value in _EMPTY_CELLS else value


def _bool_cell(value):
    return (cell(value) or "").lower() == "true"


def _date_cell(value):
    """ISO 8601 in UTC, as the rest of the collection returns dates, or None."""
    try:
        return iso(as_datetime(cell(value)))
    except ValueError:
        return None


def parse_credential_report(content):
    """The report's CSV (bytes or str) as one dict per user, with its keys by position.

    Each user: ``user_name``, ``arn``, ``user_creation_time`` and ``access_keys``, a list of the positions
    that hold a key (a position whose ``last_rotated`` is empty holds none), each with ``position``,
    ``active``, ``last_rotated``, ``last_used_date``, ``last_used_region``, ``last_used_service``.
    """
    if isinstance(content, bytes):
        content = content.decode("utf-8")
    reader = csv.DictReader(io.StringIO(content))
    missing = {"user", "arn"} - set(reader.fieldnames or ())
    if missing:
        raise RotorIAMError(
            f"The credential report IAM returned has no {', '.join(sorted(missing))} column "
            f"(columns: {', '.join(reader.fieldnames or ()) or 'none'}); it cannot be read.",
            code="MalformedReport",
        )
    users = []
    for row in reader:
        keys = []
        for position in KEY_POSITIONS:
            prefix = f"access_key_{position}_"
            last_rotated = _date_cell(row.get(prefix + "last_rotated"))
            if last_rotated is None:
                continue
            keys.append(
                {
                    "position": position,
                    "active": _bool_cell(row.get(prefix + "active")),
                    "last_rotated": last_rotated,
                    "last_used_date": _date_cell(row.get(prefix + "last_used_date")),
                    "last_used_region": cell(row.get(prefix + "last_used_region")),
                    "last_used_service": cell(row.get(prefix + "last_used_service")),
                }
            )
        users.append(
            {
                "user_name": row["user"],
                "arn": cell(row.get("arn")),
                "user_creation_time": _date_cell(row.get("user_creation_time")),
                "access_keys": keys,
            }
        )
    return users


def explain_report_error(exc, action):
    code = error_code(exc)
    if code in _ACCESS_DENIED_CODES:
        return RotorIAMError(
            f"Access denied for {action}: the identity running this task needs iam:GenerateCredentialReport and "
            f"iam:GetCredentialReport (they take no resource, so Resource \"*\"). Grant them in an IAM policy "
            f"(see docs/iam-policy.json) and retry. AWS said: {_aws_message(exc)}",
            code=code,
            action=action,
        )
    if code in ("LimitExceeded", "ServiceFailure"):
        return RotorIAMError(f"{action} failed with {code}: {_aws_message(exc)}. Retry later.", code=code, action=action)
    return explain_client_error(exc, action)


def _aws_message(exc):
    try:
        return exc.response["Error"].get("Message") or str(exc)
    except (AttributeError, KeyError, TypeError):
        return str(exc)


def _report_call(action, func):
    try:
        return func(aws_retry=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise explain_report_error(exc, action) from exc


def _get_report(client):
    """GetCredentialReport's answer, or None when there is no report to get yet."""
    try:
        return client.get_credential_report(aws_retry=True)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in _NO_REPORT_CODES:
            return None
        raise explain_report_error(exc, "iam:GetCredentialReport") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise explain_report_error(exc, "iam:GetCredentialReport") from exc


def generate_until_complete(client, timeout, sleep=time.sleep, clock=time.monotonic):
    """Call GenerateCredentialReport until IAM says COMPLETE; returns the number of calls made."""
    started = clock()
    calls = 0
    while True:
        response = _report_call("iam:GenerateCredentialReport", client.generate_credential_report)
        calls += 1
        state = response.get("State")
        if state == "COMPLETE":
            return calls
        elapsed = clock() - started
        if elapsed >= timeout:
            raise RotorIAMError(
                f"IAM was still generating the credential report after {int(elapsed)}s (state {state}, "
                f"{calls} GenerateCredentialReport calls). Large accounts take longer: raise report_timeout, "
                f"or retry in a minute.",
                code="ReportTimeout",
            )
        sleep(min(_POLL_DELAYS[min(calls - 1, len(_POLL_DELAYS) - 1)], max(0.0, timeout - elapsed)))


def fetch_credential_report(client, max_age_seconds, timeout=300, now=None, sleep=time.sleep, clock=time.monotonic):
    """The account's credential report, no older than ``max_age_seconds`` if IAM allows.

    Gets the current report first; only when there is none or it is older than ``max_age_seconds``
    does it ask IAM for a new one (GenerateCredentialReport, polled until COMPLETE) and get that.
    IAM regenerates a report at most every 4 hours, so the report may still be older than asked:
    ``stale`` says so. Returns ``content``, ``generated_time``, ``age_seconds``, ``requested``
    (whether GenerateCredentialReport was called) and ``stale``.
    """
    now = now or utcnow()
    response = _get_report(client)
    requested = False
    if response is None or _age_seconds(response, now) > max_age_seconds:
        generate_until_complete(client, timeout, sleep=sleep, clock=clock)
        requested = True
        response = _get_report(client)
        if response is None:
            raise RotorIAMError(
                "IAM said the credential report was generated, but GetCredentialReport found none. "
                "Retry in a minute.",
                code="ReportNotPresent",
            )
    age = _age_seconds(response, now)
    return {
        "content": response.get("Content") or b"",
        "generated_time": iso(as_datetime(response.get("GeneratedTime"))),
        "age_seconds": age,
        "requested": requested,
        "stale": age > max_age_seconds,
    }


def _age_seconds(response, now):
    generated = as_datetime(response.get("GeneratedTime"))
    if generated is None:
        return 0
    return max(0, int((now - generated).total_seconds()))


def report_key_entry(user, key, now, max_age_days=None, access_key_id=None, status=None):
    """One key of the report as an access key entry (see access_key_info's RETURN)."""
    status = status or ("Active" if key["active"] else "Inactive")
    entry = {
        "user_name": user,
        "user": user,
        "position": key.get("position"),
        "access_key_id": access_key_id,
        "status": status,
        "active": status == "Active",
        "create_date": key.get("last_rotated"),
        "last_rotated": key.get("last_rotated"),
        "age_days": age_days(key.get("last_rotated"), now),
        "last_used_date": key.get("last_used_date"),
        "last_used_service": key.get("last_used_service"),
        "last_used_region": key.get("last_used_region"),
    }
    if max_age_days is not None:
        entry["rotation_due"] = entry["active"] and entry["age_days"] is not None and entry["age_days"] >= max_age_days
    return entry


def match_positions(report_keys, listed_keys):
    """Pair each key ListAccessKeys returned with the report position created at the same second.

    Returns ``[(listed_key, report_key_or_None)]`` in listing order. Report positions nobody claims
    belong to keys deleted since the report; listed keys without a position were created after it.
    """
    unclaimed = list(report_keys)
    pairs = []
    for listed in listed_keys:
        created = as_datetime(listed.get("create_date"))
        match = None
        for candidate in unclaimed:
            rotated = as_datetime(candidate.get("last_rotated"))
            if created and rotated and abs((created - rotated).total_seconds()) <= _SAME_KEY_SECONDS:
                match = candidate
                break
        if match is not None:
            unclaimed.remove(match)
        pairs.append((listed, match))
    return pairs


def resolved_key_entries(user, report_keys, listed_keys, now, max_age_days=None):
    """Entries for a user whose keys were listed: ids and status from the listing, last use from the report."""
    entries = []
    for listed, reported in match_positions(report_keys, listed_keys):
        base = dict(reported) if reported else {"position": None, "last_rotated": listed.get("create_date")}
        base["last_rotated"] = base.get("last_rotated") or listed.get("create_date")
        entries.append(report_key_entry(user, base, now, max_age_days, access_key_id=listed["access_key_id"], status=listed["status"]))
    return entries


def describe_account_keys(
    client,
    user_names=None,
    resolve_key_ids_for=(),
    max_age_days=None,
    report_max_age=14400,
    report_timeout=300,
    now=None,
    sleep=time.sleep,
    clock=time.monotonic,
):
    """Access keys of every user (``user_names=None``) or of the named users, from the credential report.

    Key ids are looked up (one ListAccessKeys per user) for the named users and for
    ``resolve_key_ids_for``; every other key has ``access_key_id: None``. Returns ``access_keys``
    (user by user, by position), ``users``, ``report`` (its time, age, whether it was requested),
    ``missing_users`` (users of ``resolve_key_ids_for`` that do not exist; with ``user_names`` a
    missing user raises instead) and ``warnings``.
    """
    now = now or utcnow()
    report = fetch_credential_report(client, report_max_age, timeout=report_timeout, now=now, sleep=sleep, clock=clock)
    rows = {row["user_name"]: row for row in parse_credential_report(report["content"])}
    warnings = []
    if report["stale"] and report["requested"]:
        warnings.append(
            f"The credential report IAM returned was generated at {report['generated_time']}, {report['age_seconds']}s "
            f"ago, older than report_max_age ({report_max_age}s): IAM regenerates it at most every 4 hours."
        )

    resolve = {name for name in resolve_key_ids_for if name != ROOT_ACCOUNT}
    if user_names is None:
        # Users created after the report are still looked up when their ids are wanted.
        wanted = list(rows) + sorted(resolve - set(rows))
    else:
        wanted = list(dict.fromkeys(user_names))
        resolve |= set(wanted)

    access_keys = []
    users = []
    missing_users = []
    for name in wanted:
        row = rows.get(name)
        if name in resolve:
            try:
                listed = list_access_keys(client, name)
            except RotorIAMError as exc:
                if exc.code != "NoSuchEntity" or user_names is not None:
                    raise
                missing_users.append(name)  # for all_users, a missing user is a finding, not a failure
                continue
            if row is None:
                warnings.append(
                    f"IAM user {name!r} is not in the credential report generated at {report['generated_time']} "
                    f"(created after it?): its keys are listed without last use."
                )
            entries = resolved_key_entries(name, row["access_keys"] if row else [], listed, now, max_age_days)
        elif row is None:
            raise RotorIAMError(
                f"IAM user {name!r} is not in the credential report generated at {report['generated_time']}. "
                f"Check the user name (it is case-sensitive) and the account you are connected to.",
                code="NoSuchEntity",
            )
        else:
            entries = [report_key_entry(name, key, now, max_age_days) for key in row["access_keys"]]
        access_keys.extend(entries)
        users.append(
            {
                "user_name": name,
                "arn": row["arn"] if row else None,
                "user_creation_time": row["user_creation_time"] if row else None,
                "access_key_count": len(entries),
                "active_key_count": sum(1 for entry in entries if entry["active"]),
            }
        )
    return {
        "access_keys": access_keys,
        "users": users,
        "report": {
            "generated_time": report["generated_time"],
            "age_seconds": report["age_seconds"],
            "requested": report["requested"],
        },
        "missing_users": missing_users,
        "warnings": warnings,
    }
