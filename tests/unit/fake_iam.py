"""The one fake IAM client of the unit tests: users, their access keys and tags, the credential report.

Enough of boto3's IAM client for rotor's module_utils, kept in memory, with every call recorded as
``(method, kwargs)``. It pages like IAM (``Marker`` / ``IsTruncated``), answers with the ``Date`` header
of ``server_now`` (AWS's clock), and fails on request:

- ``errors``: ``{method: exception}`` raised by every call of that method;
- a user whose tags are an error code string (``"AccessDenied"``) fails ListUserTags for that user only;
- ``create_failures``: what the next CreateAccessKey calls do instead of answering, in order, as
  ``(exception, key_created_anyway)``: the second item models a request AWS carried out but whose answer
  was lost;
- ``report_answers`` / ``generate_states``: what successive GetCredentialReport calls do (an error code,
  or the report's age in seconds) and the State of successive GenerateCredentialReport answers.

Integration tests never use it: they run against the real endpoint (tests/iam_endpoint).
"""

from __future__ import annotations

import datetime
import email.utils

from botocore.exceptions import ClientError

NOW = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
WRITE_CALLS = ("create_access_key", "update_access_key", "delete_access_key", "tag_user", "untag_user")


def client_error(code, message=None, operation="Operation"):
    """A botocore ClientError as IAM sends it."""
    return ClientError({"Error": {"Code": code, "Message": message or f"{code} said AWS"}}, operation)


def key_metadata(key_id, user, status="Active", days_old=10, now=NOW):
    """One entry of ListAccessKeys' AccessKeyMetadata."""
    return {"AccessKeyId": key_id, "UserName": user, "Status": status, "CreateDate": now - datetime.timedelta(days=days_old)}


class FakeIAM:  # pylint: disable=too-many-instance-attributes
    """An in-memory IAM account for unit tests; see the module docstring."""

    def __init__(self, keys=(), users=None, tags=None, page_size=100, tag_page_size=100, create_failures=(), errors=None,
                 last_used=None, report="", report_answers=(60,), generate_states=("COMPLETE",), server_now=NOW):
        self.keys = [dict(k) for k in keys]
        # tags: {user: {key: value} | [page of tags, ...] | "ErrorCode"}; users default to those named anywhere
        self.user_tag_table = dict(tags or {})
        named = set(users or ()) | {k["UserName"] for k in self.keys} | set(self.user_tag_table)
        self.users = named
        self.page_size = page_size
        self.tag_page_size = tag_page_size
        self.create_failures = list(create_failures)
        self.errors = dict(errors or {})
        self.last_used = dict(last_used or {})
        self.report = report
        self.report_answers = list(report_answers)
        self.generate_states = list(generate_states)
        self.server_now = server_now
        self.calls = []
        self.created = 0

    # ------------------------------------------------------------------ records

    def _record(self, name, kwargs):
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        self.calls.append((name, kwargs))
        if name in self.errors:
            raise self.errors[name]

    def _require_user(self, user_name):
        if user_name not in self.users:
            raise client_error("NoSuchEntity", f"The user with name {user_name} cannot be found.")

    def names(self):
        """The methods called, in order."""
        return [name for name, dummy in self.calls]

    def writes(self):
        """The calls that changed something, in order."""
        return [(name, kwargs) for name, kwargs in self.calls if name in WRITE_CALLS]

    def key_ids(self, user=None):
        return [k["AccessKeyId"] for k in self.keys if user is None or k["UserName"] == user]

    def _answer(self, body):
        body["ResponseMetadata"] = {"HTTPHeaders": {"date": email.utils.format_datetime(self.server_now, usegmt=True)}}
        return body

    @staticmethod
    def _page(items, marker, size):
        start = int(marker or 0)
        page = items[start:start + size]
        truncated = start + size < len(items)
        return page, (str(start + size) if truncated else None)

    # ------------------------------------------------------------------ access keys

    def list_access_keys(self, UserName, Marker=None, **kwargs):  # noqa: N803 (boto3's names)
        self._record("list_access_keys", dict(kwargs, UserName=UserName, Marker=Marker))
        self._require_user(UserName)
        page, marker = self._page([k for k in self.keys if k["UserName"] == UserName], Marker, self.page_size)
        body = {"AccessKeyMetadata": [dict(k) for k in page], "IsTruncated": marker is not None}
        if marker:
            body["Marker"] = marker
        return self._answer(body)

    def get_access_key_last_used(self, AccessKeyId, **kwargs):  # noqa: N803
        self._record("get_access_key_last_used", dict(kwargs, AccessKeyId=AccessKeyId))
        owner = next((k["UserName"] for k in self.keys if k["AccessKeyId"] == AccessKeyId), None)
        return self._answer({"UserName": owner, "AccessKeyLastUsed": self.last_used.get(AccessKeyId, {"ServiceName": "N/A", "Region": "N/A"})})

    def create_access_key(self, UserName, **kwargs):  # noqa: N803
        self._record("create_access_key", dict(kwargs, UserName=UserName))
        self._require_user(UserName)
        if self.create_failures:
            exc, created_anyway = self.create_failures.pop(0)
            if created_anyway:
                self._new_key(UserName)
            raise exc
        if len(self.key_ids(UserName)) >= 2:
            raise client_error("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
        key = self._new_key(UserName)
        return self._answer({"AccessKey": dict(key, SecretAccessKey=f"secret-of-{key['AccessKeyId']}")})

    def _new_key(self, user_name):
        self.created += 1
        key = {"AccessKeyId": f"AKIANEW{self.created}", "UserName": user_name, "Status": "Active", "CreateDate": self.server_now}
        self.keys.append(key)
        return key

    def update_access_key(self, UserName, AccessKeyId, Status, **kwargs):  # noqa: N803
        self._record("update_access_key", dict(kwargs, UserName=UserName, AccessKeyId=AccessKeyId, Status=Status))
        for key in self.keys:
            if key["AccessKeyId"] == AccessKeyId:
                key["Status"] = Status
                return self._answer({})
        raise client_error("NoSuchEntity", f"The Access Key with id {AccessKeyId} cannot be found.")

    def delete_access_key(self, UserName, AccessKeyId, **kwargs):  # noqa: N803
        self._record("delete_access_key", dict(kwargs, UserName=UserName, AccessKeyId=AccessKeyId))
        before = len(self.keys)
        self.keys = [k for k in self.keys if k["AccessKeyId"] != AccessKeyId]
        if len(self.keys) == before:
            raise client_error("NoSuchEntity", f"The Access Key with id {AccessKeyId} cannot be found.")
        return self._answer({})

    # ------------------------------------------------------------------ tags

    def _tag_pages(self, user_name):
        value = self.user_tag_table.get(user_name, {})
        if isinstance(value, str):
            raise client_error(value, operation="ListUserTags")
        if isinstance(value, list):  # given as pages
            return value
        items = list(value.items())
        return [dict(items[i:i + self.tag_page_size]) for i in range(0, len(items), self.tag_page_size)] or [{}]

    def list_user_tags(self, UserName, MaxItems=None, Marker=None, **kwargs):  # noqa: N803
        self._record("list_user_tags", dict(kwargs, UserName=UserName, Marker=Marker, MaxItems=MaxItems))
        self._require_user(UserName)
        pages = self._tag_pages(UserName)
        page = int(Marker or 0)
        body = {"Tags": [{"Key": k, "Value": v} for k, v in pages[page].items()], "IsTruncated": page + 1 < len(pages)}
        if body["IsTruncated"]:
            body["Marker"] = str(page + 1)
        return self._answer(body)

    def _flat_tags(self, user_name):
        merged = {}
        for page in self._tag_pages(user_name):
            merged.update(page)
        return merged

    def tag_user(self, UserName, Tags, **kwargs):  # noqa: N803
        self._record("tag_user", dict(kwargs, UserName=UserName, Tags=Tags))
        self._require_user(UserName)
        merged = self._flat_tags(UserName)
        merged.update({tag["Key"]: tag["Value"] for tag in Tags})
        self.user_tag_table[UserName] = merged
        return self._answer({})

    def untag_user(self, UserName, TagKeys, **kwargs):  # noqa: N803
        self._record("untag_user", dict(kwargs, UserName=UserName, TagKeys=TagKeys))
        self._require_user(UserName)
        merged = self._flat_tags(UserName)
        for name in TagKeys:
            merged.pop(name, None)
        self.user_tag_table[UserName] = merged
        return self._answer({})

    def user_tags(self, user_name):
        """The user's tags now, as one dict."""
        return self._flat_tags(user_name)

    # ------------------------------------------------------------------ credential report

    def get_credential_report(self, **kwargs):
        self._record("get_credential_report", kwargs)
        answer = self.report_answers.pop(0) if len(self.report_answers) > 1 else self.report_answers[0]
        if isinstance(answer, str):
            raise client_error(answer, operation="GetCredentialReport")
        generated = self.server_now - datetime.timedelta(seconds=answer)
        return self._answer({"Content": self.report.encode(), "ReportFormat": "text/csv", "GeneratedTime": generated})

    def generate_credential_report(self, **kwargs):
        self._record("generate_credential_report", kwargs)
        state = self.generate_states.pop(0) if len(self.generate_states) > 1 else self.generate_states[0]
        return self._answer({"State": state})


def action_name(method):
    """boto3's method name as IAM names the action: list_user_tags -> ListUserTags."""
    return "".join(part.capitalize() for part in method.split("_"))


class OneUserIAM(FakeIAM):
    """The account of one IAM user, as the journal and lease tests see it.

    ``tags``: the user's tags, a live dict (a test may change it to play a rival run); ``keys``:
    ``{access_key_id: status}``. ``calls`` lists the IAM actions made, by IAM's names, in order
    (``requests`` keeps FakeIAM's ``(method, kwargs)`` records); ``tag_writes`` the tag changes, as
    ``("tag", {key: value})`` or ``("untag", [key, ...])``.
    """

    def __init__(self, tags=None, keys=None, user="app", **options):
        super().__init__(keys=[key_metadata(key_id, user, status, days_old=0) for key_id, status in (keys or {}).items()],
                         users=[user], **options)
        self.user = user
        self.tags = dict(tags or {})
        self.requests = []
        self.tag_writes = []

    @property
    def tags(self):
        return self.user_tag_table[self.user]

    @tags.setter
    def tags(self, value):
        self.user_tag_table[self.user] = dict(value)

    def _record(self, name, kwargs):
        self.requests.append((name, {k: v for k, v in kwargs.items() if v is not None}))
        self.calls.append(action_name(name))
        if name == "tag_user":
            self.tag_writes.append(("tag", {tag["Key"]: tag["Value"] for tag in kwargs["Tags"]}))
        elif name == "untag_user":
            self.tag_writes.append(("untag", list(kwargs["TagKeys"])))
        if name in self.errors:
            raise self.errors[name]

    def _require_user(self, user_name):
        """One user's account: whatever name a test's call uses is that user."""

    def _tag_pages(self, user_name):
        return [self.tags]

    def tag_user(self, UserName, Tags, **kwargs):  # noqa: N803
        self._record("tag_user", dict(kwargs, UserName=UserName, Tags=Tags))
        self.tags.update({tag["Key"]: tag["Value"] for tag in Tags})
        return self._answer({})

    def untag_user(self, UserName, TagKeys, **kwargs):  # noqa: N803
        self._record("untag_user", dict(kwargs, UserName=UserName, TagKeys=TagKeys))
        for name in TagKeys:
            self.tags.pop(name, None)
        return self._answer({})

    def key_statuses(self):
        return {key["AccessKeyId"]: key["Status"] for key in self.keys}
