"""docs/iam-policy.json is exactly what rotor.iam needs: every action it calls, nothing more.

Two halves:

* the document itself, parsed: Allow only, explicit actions (no wildcards), user-level
  actions scoped to ``arn:aws:iam::<account>:user/<path>/*``, credential-report actions on
  ``*`` (they have no resource), journal tags limited to the ``rotor:`` keys, Secrets Manager
  actions (rotor.iam.pending_secret) scoped to ``secret:rotor/pending/*``, their tags to ``rotor:``;
  the secret destinations' (rotor.iam.secret_destination) to ``secret:rotor/keys/*`` and SSM
  ``parameter/rotor/keys/*``;
* the calls: an identity holding only this policy (moto enforces it, with every Resource
  read as "*", see conftest.policy_for_moto) runs a check-mode rotation, a rotation that
  leaves the old key Inactive, the later run that deletes it, and the account-wide audit.
  Every run must succeed (the policy is sufficient) and the IAM actions the endpoint
  counted during those runs must be exactly the policy's (the policy is minimal);
* the same for Secrets Manager: every state of rotor.iam.pending_secret runs under the policy
  and calls exactly its Secrets Manager actions, and under another prefix every state is
  denied. The endpoint authorizes Secrets Manager calls against the secret's ARN, so these
  statements keep their Resource (the IAM ones still become "*", see policy_for_endpoint);
* the same for the destinations: rotor.iam.secret_destination's states on a Secrets Manager
  secret and an SSM parameter under rotor/keys/ call exactly the destination statements'
  actions, and outside rotor/keys/ they are denied (the endpoint authorizes SSM by parameter ARN).

``sts:GetCallerIdentity`` (access_key_verify proves a new key with it, signed by that key)
needs no permission in AWS, even under an explicit Deny, so it is observed but not granted.
Calls made by the test's admin client to seed users are never counted: counters are reset
right before each playbook run and read right after it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List, Set

import pytest
from support import ansible_env, rotor_vars, run_playbook

REPO = Path(__file__).resolve().parents[2]
POLICY_FILE = REPO / "docs" / "iam-policy.json"

# Actions AWS answers without any IAM permission: observed, never granted.
PERMISSION_FREE = {"sts:GetCallerIdentity"}
# The STS actions the endpoint may count (its counters name the action, not the service).
STS_ACTIONS = {"GetCallerIdentity", "AssumeRole", "GetSessionToken", "GetAccessKeyInfo", "GetFederationToken", "DecodeAuthorizationMessage"}
# IAM actions that have no resource (AWS requires Resource "*").
ACCOUNT_LEVEL = {"iam:GenerateCredentialReport", "iam:GetCredentialReport"}
USER_ARN = re.compile(r"^arn:aws:iam::\d{12}:user/([A-Za-z0-9+=,.@_-]+/)+\*$")
# Secrets Manager: rotor.iam.pending_secret's secrets only (Secrets Manager appends "-XXXXXX" to ARNs).
PENDING_SECRET_ARN = "arn:aws:secretsmanager:*:*:secret:rotor/pending/*"
# Secret destinations (rotor.iam.secret_destination): the documented names, adjusted by users to theirs.
DESTINATION_ARNS = {"secretsmanager": "arn:aws:secretsmanager:*:*:secret:rotor/keys/*",
                    "ssm": "arn:aws:ssm:*:*:parameter/rotor/keys/*"}
# Incident response (rotor.iam.respond_to_leak): AWS's quarantine policies and CloudTrail's LookupEvents.
QUARANTINE_POLICY_ARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine*"
INCIDENT_SIDS = ("RotorIncidentReadQuarantine", "RotorIncidentQuarantineDenies", "RotorIncidentDetachQuarantine", "RotorIncidentKeyActivity")
CLOUDTRAIL_ACTIONS = {"LookupEvents"}
SSM_ACTIONS = {"GetParameter", "PutParameter", "GetParameterHistory", "GetParameters", "DeleteParameter",
               "DescribeParameters", "LabelParameterVersion"}
# The Secrets Manager actions the endpoint may count (its counters name the action, not the service).
SECRETSMANAGER_ACTIONS = {"CreateSecret", "DescribeSecret", "GetSecretValue", "PutSecretValue", "DeleteSecret",
                          "TagResource", "UntagResource", "UpdateSecret", "ListSecrets", "RestoreSecret",
                          "UpdateSecretVersionStage"}
from support import PLAYBOOK_TIMEOUT  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


def load_rotation_policy() -> Dict:
    return json.loads(POLICY_FILE.read_text())


def policy_actions(policy: Dict) -> List[str]:
    actions = []
    for statement in policy["Statement"]:
        listed = statement["Action"]
        actions += [listed] if isinstance(listed, str) else list(listed)
    return actions


def resources_of(statement: Dict) -> List[str]:
    listed = statement["Resource"]
    return [listed] if isinstance(listed, str) else list(listed)


# --------------------------------------------------------------------------- the document


def test_policy_document_is_explicit_allow_only_and_scoped():
    policy = load_rotation_policy()

    assert policy["Version"] == "2012-10-17"
    assert policy["Statement"], "no statement"
    grants = [(action, resource) for statement in policy["Statement"]
              for action in policy_actions({"Statement": [statement]}) for resource in resources_of(statement)]
    assert len(grants) == len(set(grants)), f"an action is granted twice on one resource: {grants}"
    for statement in policy["Statement"]:
        name = statement.get("Sid", statement)
        assert statement.get("Sid"), f"statement without Sid: {statement}"
        assert statement["Effect"] == "Allow", f"{name}: only Allow statements belong here"
        assert not {"NotAction", "NotResource", "Principal"} & set(statement), f"{name}: NotAction/NotResource/Principal"
        granted = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        for action in granted:
            assert re.fullmatch(r"(iam|sts|secretsmanager|ssm|cloudtrail):[A-Z][A-Za-z]+", action), (
                f"{name}: {action!r} is not one explicit IAM/STS/Secrets Manager/SSM action")
        resources = resources_of(statement)
        services = {action.split(":")[0] for action in granted}
        if "cloudtrail" in services:
            assert granted == ["cloudtrail:LookupEvents"] and resources == ["*"], f"{name}: cloudtrail:LookupEvents only, on \"*\" (it has no resource)"
        elif resources == [QUARANTINE_POLICY_ARN]:
            assert set(granted) <= {"iam:GetPolicy", "iam:GetPolicyVersion"}, f"{name}: only reading AWS's quarantine policies"
        elif "ssm" in services:
            assert services == {"ssm"}, f"{name}: mixes SSM and other actions"
            assert resources == [DESTINATION_ARNS["ssm"]], f"{name}: SSM actions only on {DESTINATION_ARNS['ssm']}"
        elif "secretsmanager" in services:
            assert services == {"secretsmanager"}, f"{name}: mixes Secrets Manager and other actions"
            allowed = (PENDING_SECRET_ARN, DESTINATION_ARNS["secretsmanager"])
            assert len(resources) == 1 and resources[0] in allowed, f"{name}: Secrets Manager actions only on {allowed}"
        elif set(granted) <= ACCOUNT_LEVEL:
            assert resources == ["*"], f"{name}: credential report actions have no resource; use \"*\""
        else:
            assert not set(granted) & ACCOUNT_LEVEL, f"{name}: mixes account-level and user-level actions"
            for resource in resources:
                assert USER_ARN.match(resource), f"{name}: {resource!r} is not arn:aws:iam::<account>:user/<path>/*"
    detaching = [s for s in policy["Statement"] if "iam:DetachUserPolicy" in s["Action"]]
    assert detaching, "iam:DetachUserPolicy (the quarantine, with the opt-in) is not granted"
    for statement in detaching:
        assert statement["Action"] == ["iam:DetachUserPolicy"], f"{statement['Sid']}: DetachUserPolicy in a statement of its own"
        assert statement.get("Condition") == {"ArnLike": {"iam:PolicyARN": QUARANTINE_POLICY_ARN}}, (
            f"{statement['Sid']}: only AWS's quarantine policies may be detached")
    assert sorted(s["Sid"] for s in policy["Statement"] if s["Sid"].startswith("RotorIncident")) == sorted(INCIDENT_SIDS)
    tagging = [s for s in policy["Statement"] if {"iam:TagUser", "iam:UntagUser", "secretsmanager:TagResource"} & set(s["Action"])]
    for statement in tagging:
        condition = statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("aws:TagKeys")
        assert condition in ("rotor:*", ["rotor:*"]), f"{statement['Sid']}: tagging must be limited to the rotor: tag keys"


def test_policy_is_the_one_the_docs_show():
    """README and docs/awx.md point at the file rather than a copy that could drift."""
    for doc in ("README.md", "docs/awx.md"):
        text = (REPO / doc).read_text()
        assert "docs/iam-policy.json" in text or "iam-policy.json" in text, f"{doc} does not point at docs/iam-policy.json"


# --------------------------------------------------------------------------- the calls


def run_as(identity_env: Dict[str, str], endpoint, playbook: str, inventory: str, workdir: Path, label: str,
           extra_vars: Dict[str, object], check: bool = False) -> Dict[str, int]:
    """ansible-playbook with only ``identity_env`` as AWS credentials; returns the endpoint's counters of the run."""
    completed = run_playbook(playbook, workdir, endpoint=endpoint, env=ansible_env(None, **identity_env), inventories=[inventory],
                             extra_vars=dict(extra_vars, **rotor_vars(endpoint)), check=check, diff=check, label=label, log=False,
                             timeout=PLAYBOOK_TIMEOUT)
    denied = sorted(set(re.findall(r"(?:not authorized to perform|AccessDenied)[^\n]{0,120}?\b((?:iam|sts|secretsmanager|ssm):[A-Za-z]+)", completed.stdout)))
    assert completed.returncode == 0, (
        f"{label}: {playbook} failed as the policy's identity after {completed.seconds:.0f}s"
        f"{' (denied: ' + ', '.join(denied) + ')' if denied else ''}; output in {workdir / (label + '.stdout')}\n{completed.stdout[-5000:]}"
    )
    return completed.calls


def qualified(calls: Dict[str, int]) -> Set[str]:
    return {_service_of(action) + ":" + action for action, count in calls.items() if count}


def _service_of(action: str) -> str:
    if action in STS_ACTIONS:
        return "sts"
    if action in SSM_ACTIONS:
        return "ssm"
    if action in CLOUDTRAIL_ACTIONS:
        return "cloudtrail"
    return "secretsmanager" if action in SECRETSMANAGER_ACTIONS else "iam"


def of_services(actions, *services: str) -> Set[str]:
    return {action for action in actions if action.split(":")[0] in services}


def policy_for_endpoint(policy: Dict) -> Dict:
    """What the endpoint can evaluate: IAM/STS statements on Resource "*" (moto matches no other resource
    for them), Secrets Manager statements with their own Resource (the endpoint authorizes those against
    the secret's ARN); no Condition (moto evaluates none for user policies, checked structurally above)."""
    statements = []
    for statement in policy["Statement"]:
        statement = {key: value for key, value in statement.items() if key != "Condition"}
        if not any(action.startswith(("secretsmanager:", "ssm:")) for action in policy_actions({"Statement": [statement]})):
            statement["Resource"] = "*"
        statements.append(statement)
    return dict(policy, Statement=statements)


@pytest.fixture
def policy_endpoint(empty_endpoint):
    """The session's endpoint, reset, without lags: these tests are about permissions."""
    empty_endpoint.configure(propagation_seconds=0)
    return empty_endpoint


@pytest.mark.slow
def test_policy_grants_exactly_the_actions_rotation_and_audit_call(policy_endpoint, make_rotator, tmp_path):
    from fleet.fleet import Fleet  # pylint: disable=import-outside-toplevel
    from rotation_helpers import key_statuses, seed_user  # pylint: disable=import-outside-toplevel

    endpoint = policy_endpoint
    user = "policy-app"
    old_id, old_secret = seed_user(endpoint, user, 120)
    _name, rotator_id, rotator_secret = make_rotator(endpoint)
    identity = endpoint.aws_env(rotator_id, rotator_secret)
    report_dir = tmp_path / "audit"
    observed: Dict[str, Set[str]] = {}
    with Fleet(str(tmp_path / "fleet"), 2, mode="local", endpoint_url=endpoint.endpoint_url, region=endpoint.region,
               users=user, initial_keys={user: (old_id, old_secret)}) as fleet:
        inventory = fleet.write_inventory()
        runs = [
            ("check", "rotor.iam.rotate", {}, True),
            ("rotate-deactivate", "rotor.iam.rotate", {"rotor_old_key_action": "deactivate"}, False),
            ("delete-inactive", "rotor.iam.rotate", {"rotor_delete_inactive_after_days": 0}, False),
            ("rotate-pending-store", "rotor.iam.rotate", {"rotor_pending_store": "secretsmanager", "rotor_force": True}, False),
            ("audit", "rotor.iam.audit", {"rotor_report_dir": str(report_dir), "rotor_audit_fail_on_due": False}, False),
        ]
        for label, playbook, extra_vars, check in runs:
            observed[label] = qualified(run_as(identity, endpoint, playbook, inventory, tmp_path, label, extra_vars, check))
    keys = key_statuses(endpoint, user)
    assert sorted(path.suffix for path in report_dir.iterdir()) == [".html", ".json", ".md"], "the audit wrote no report"
    assert old_id not in keys and list(keys.values()) == ["Active"], f"the rotation did not complete: {keys}"

    # Exactly the IAM and STS actions; the Secrets Manager ones (the rotation with rotor_pending_store calls some
    # of them) are checked exactly by the rotor.iam.pending_secret test below.
    granted = of_services(policy_actions(calm_statements()), "iam", "sts")
    seen = set().union(*observed.values())
    needed = seen - PERMISSION_FREE
    by_run = {label: sorted(actions) for label, actions in observed.items()}
    assert of_services(observed["rotate-pending-store"], "secretsmanager"), f"the store was not used: {by_run}"
    assert not needed - set(policy_actions(load_rotation_policy())), (
        f"called but not in docs/iam-policy.json: {sorted(needed - set(policy_actions(load_rotation_policy())))} (per run: {by_run})")
    needed = of_services(needed, "iam", "sts")
    assert not needed - granted, f"called but not in docs/iam-policy.json: {sorted(needed - granted)} (per run: {by_run})"
    assert not granted - needed, f"in docs/iam-policy.json but never called: {sorted(granted - needed)} (per run: {by_run})"
    assert not granted & PERMISSION_FREE, "sts:GetCallerIdentity needs no permission; do not grant it"


def calm_statements() -> Dict:
    """The policy without the incident statements (rotor.iam.respond_to_leak's, tested below)."""
    policy = load_rotation_policy()
    return dict(policy, Statement=[s for s in policy["Statement"] if s["Sid"] not in INCIDENT_SIDS])


@pytest.mark.slow
def test_policy_grants_exactly_the_actions_incident_response_calls(policy_endpoint, make_rotator, tmp_path):
    """rotor.iam.respond_to_leak with the quarantine opt-in, as an identity holding only the policy: it succeeds, calls
    every action of the incident statements, and nothing the policy does not grant."""
    from fleet.fleet import Fleet  # pylint: disable=import-outside-toplevel
    from rotation_helpers import key_statuses, seed_user  # pylint: disable=import-outside-toplevel

    endpoint = policy_endpoint
    user = "policy-leak"
    leaked_id, leaked_secret = seed_user(endpoint, user, 10)
    endpoint.boto3_client("iam").attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3")
    _name, rotator_id, rotator_secret = make_rotator(endpoint)
    identity = endpoint.aws_env(rotator_id, rotator_secret)
    with Fleet(str(tmp_path / "fleet"), 2, mode="local", endpoint_url=endpoint.endpoint_url, region=endpoint.region,
               users=user, initial_keys={user: (leaked_id, leaked_secret)}) as fleet:
        calls = run_as(identity, endpoint, "rotor.iam.respond_to_leak", fleet.write_inventory(), tmp_path, "respond",
                       {"rotor_compromised_key_ids": [leaked_id], "rotor_detach_quarantine_policy": True, "rotor_lock_settle_seconds": 0.5})
    keys = key_statuses(endpoint, user)
    assert leaked_id not in keys and list(keys.values()) == ["Active"], f"the incident rotation did not complete: {keys}"
    assert endpoint.boto3_client("iam").list_attached_user_policies(UserName=user)["AttachedPolicies"] == [], "the quarantine was not detached"
    seen = qualified(calls) - PERMISSION_FREE
    granted = set(policy_actions(load_rotation_policy()))
    incident = {action for statement in load_rotation_policy()["Statement"] if statement["Sid"] in INCIDENT_SIDS
                for action in policy_actions({"Statement": [statement]})}
    assert not of_services(seen, "iam", "sts", "cloudtrail") - granted, f"called but not granted: {sorted(seen - granted)}"
    assert not incident - seen, f"in the incident statements but never called: {sorted(incident - seen)}"


PENDING_TARGETS = REPO / "tests" / "integration" / "targets" / "pending_secret"


def test_policy_grants_exactly_the_secrets_manager_actions_pending_secret_calls(policy_endpoint, tmp_path):
    """Every state of rotor.iam.pending_secret works with exactly the documented policy, calling all of its
    Secrets Manager actions and no other; outside rotor/pending/ every state is denied."""
    from botocore.exceptions import ClientError  # pylint: disable=import-outside-toplevel

    endpoint = policy_endpoint
    admin = endpoint.boto3_client("iam")
    admin.create_user(UserName="rotor-pending")
    admin.put_user_policy(UserName="rotor-pending", PolicyName="rotor-iam-rotation",
                          PolicyDocument=json.dumps(policy_for_endpoint(load_rotation_policy())))
    key = admin.create_access_key(UserName="rotor-pending")["AccessKey"]
    identity = endpoint.aws_env(key["AccessKeyId"], key["SecretAccessKey"])
    pending = {"user_name": "policy-app", "access_key_id": "AKIAPOLICYAPP0000000", "secret_access_key": "p" * 40,
               "run_id": "run-1", "other_run_id": "run-2", "endpoint_url": endpoint.endpoint_url}

    calls = run_as(identity, endpoint, str(PENDING_TARGETS / "policy.yml"), "localhost,", tmp_path, "pending", pending)
    run_as(identity, endpoint, str(PENDING_TARGETS / "policy_denied.yml"), "localhost,", tmp_path, "pending-denied",
           dict(pending, prefix="other/pending/"))

    granted = statement_actions(PENDING_SECRET_ARN)
    seen = of_services(qualified(calls), "secretsmanager")
    assert seen == granted, f"pending_secret called {sorted(seen)}; docs/iam-policy.json grants {sorted(granted)}"
    # The same identity, straight through boto3: nothing outside the prefix.
    secrets = endpoint.boto3_client("secretsmanager", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as denied:
        secrets.create_secret(Name="other/pending/policy-app", SecretString="{}")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


def statement_actions(*resources: str) -> Set[str]:
    """The actions docs/iam-policy.json grants on exactly these resources."""
    return {action for statement in load_rotation_policy()["Statement"] if resources_of(statement)[0] in resources
            for action in policy_actions({"Statement": [statement]})}


DESTINATION_TARGETS = REPO / "tests" / "integration" / "targets" / "secret_destination"


def test_policy_grants_exactly_the_actions_secret_destination_calls(policy_endpoint, tmp_path):
    """rotor.iam.secret_destination's states (read, present, idempotent present, restored, with and without the
    previous version id, creation) on a secret and a parameter under rotor/keys/ work with exactly the documented
    policy and call all of the destination statements' actions; outside rotor/keys/ they are denied."""
    from botocore.exceptions import ClientError  # pylint: disable=import-outside-toplevel

    endpoint = policy_endpoint
    admin = endpoint.boto3_client("iam")
    admin.create_user(UserName="rotor-destinations")
    admin.put_user_policy(UserName="rotor-destinations", PolicyName="rotor-iam-rotation",
                          PolicyDocument=json.dumps(policy_for_endpoint(load_rotation_policy())))
    key = admin.create_access_key(UserName="rotor-destinations")["AccessKey"]
    identity = endpoint.aws_env(key["AccessKeyId"], key["SecretAccessKey"])
    old = {"AccessKeyId": "AKIAPOLICYOLD0000000", "SecretAccessKey": "o" * 40}
    endpoint.boto3_client("secretsmanager").create_secret(Name="rotor/keys/app", SecretString=json.dumps(old))
    endpoint.boto3_client("ssm").put_parameter(Name="/rotor/keys/app", Type="SecureString", Value=json.dumps(old))
    endpoint.boto3_client("secretsmanager").create_secret(Name="other/app", SecretString=json.dumps(old))
    common = {"old_key_id": old["AccessKeyId"], "new_key_id": "AKIAPOLICYNEW0000000", "new_secret": "n" * 40,
              "endpoint_url": endpoint.endpoint_url, "work_dir": str(tmp_path)}

    seen: Set[str] = set()
    for kind, name in (("secretsmanager", "rotor/keys/app"), ("ssm", "/rotor/keys/app")):
        calls = run_as(identity, endpoint, str(DESTINATION_TARGETS / "lifecycle.yml"), "localhost,", tmp_path,
                       f"destination-{kind}", dict(common, dest_type=kind, dest_name=name))
        seen |= of_services(qualified(calls), "secretsmanager", "ssm")
        calls = run_as(identity, endpoint, str(DESTINATION_TARGETS / "create.yml"), "localhost,", tmp_path,
                       f"destination-create-{kind}", dict(common, dest_type=kind, dest_name=name + "-new"))
        seen |= of_services(qualified(calls), "secretsmanager", "ssm")

    granted = statement_actions(*DESTINATION_ARNS.values())
    assert seen == granted, f"secret_destination called {sorted(seen)}; docs/iam-policy.json grants {sorted(granted)}"
    for client, call in ((endpoint.boto3_client("secretsmanager", key["AccessKeyId"], key["SecretAccessKey"]),
                          lambda c: c.get_secret_value(SecretId="other/app")),
                         (endpoint.boto3_client("ssm", key["AccessKeyId"], key["SecretAccessKey"]),
                          lambda c: c.put_parameter(Name="/other/app", Type="SecureString", Value="{}"))):
        with pytest.raises(ClientError) as denied:
            call(client)
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.slow
def test_policy_grants_the_actions_the_quiet_gate_and_discovery_call(policy_endpoint, make_rotator, tmp_path):
    """As an identity holding only the policy: the quiet-key gate stopping a rotation (iam:GetAccessKeyLastUsed, and
    cloudtrail:LookupEvents with rotor_consumer_lookup=cloudtrail) and rotor.iam.discover (its IAM join) call only
    what the policy grants, and the gate's message is the gate's, not a denial."""
    from fleet.fleet import Fleet  # pylint: disable=import-outside-toplevel
    from rotation_helpers import key_statuses, seed_user  # pylint: disable=import-outside-toplevel

    endpoint = policy_endpoint
    user = "policy-quiet"
    old_id, old_secret = seed_user(endpoint, user, 120)
    _name, rotator_id, rotator_secret = make_rotator(endpoint)
    identity = endpoint.aws_env(rotator_id, rotator_secret)
    granted = set(policy_actions(load_rotation_policy()))
    with Fleet(str(tmp_path / "fleet"), 1, mode="local", endpoint_url=endpoint.endpoint_url, region=endpoint.region,
               users=user, initial_keys={user: (old_id, old_secret)}) as fleet:
        inventory = fleet.write_inventory()
        fleet.start_unknown_consumer("cron-box", old_id, old_secret, interval=0.5).wait_for_calls(2)
        gate = run_playbook("rotor.iam.rotate", tmp_path, endpoint=endpoint, env=ansible_env(None, **identity), inventories=[inventory],
                            extra_vars=dict(rotor_vars(endpoint), rotor_quiet_minutes=0.1, rotor_consumer_lookup="cloudtrail",
                                            rotor_lock_settle_seconds=0.5),
                            label="gate", log=False, timeout=PLAYBOOK_TIMEOUT)
        discover = run_as(identity, endpoint, "rotor.iam.discover", inventory, tmp_path, "discover",
                          {"rotor_discover_report": str(tmp_path / "discovery.json")})
    assert gate.returncode != 0 and "stopped by the quiet-key gate" in gate.stdout, gate.stdout[-3000:]
    assert "not authorized" not in gate.stdout and "AccessDenied" not in gate.stdout, gate.stdout[-3000:]
    assert key_statuses(endpoint, user).get(old_id) == "Active"
    seen = (qualified(gate.calls) | qualified(discover)) - PERMISSION_FREE
    assert {"iam:GetAccessKeyLastUsed", "cloudtrail:LookupEvents", "iam:GetCredentialReport"} <= seen, sorted(seen)
    assert not of_services(seen, "iam", "sts", "cloudtrail") - granted, f"called but not granted: {sorted(seen - granted)}"
