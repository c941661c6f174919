"""Seed the test IAM endpoint with an account of many users and keys, in a few control calls.

Used by the audit tests and the benchmarks (tests put <repo>/tests on sys.path)::

    from iam_endpoint.control import IAMEndpoint
    from iam_endpoint.seed import seed_account

    with IAMEndpoint().start(workdir=tmp) as endpoint:
        account = seed_account(endpoint, users=1000)
        account.due(90)              # the keys an audit with max age 90 must report as due
        account.unused(90)           # Active keys unused for 90 days
        account.two_active()         # users with two Active keys
        account.secrets()            # every secret, to grep outputs for

The mix is deterministic for a given ``rng_seed``: about 10% of users have no key, 55% one
key, 35% two; ages spread over 0..``max_age`` days (a second key is younger than the first); most keys were used recently, some long
ago, some never; some second keys are Inactive. About 60% of first keys are under 90 days old. ``profiles`` replaces the mix with exact keys.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

SEED_BATCH = 250  # users per control call


@dataclass(frozen=True)
class SeededKey:
    user_name: str
    position: int  # 1 or 2: the key's column in the credential report
    access_key_id: str
    secret_access_key: str = field(repr=False)
    status: str
    age_days: int
    last_used_days_ago: Optional[int]  # None: never used
    last_used_service: Optional[str]
    last_used_region: Optional[str]

    @property
    def active(self) -> bool:
        return self.status == "Active"

    def unused_for(self, days: int) -> bool:
        """Active and not used for ``days`` (never used: the key itself is that old)."""
        idle = self.age_days if self.last_used_days_ago is None else self.last_used_days_ago
        return self.active and idle >= days


@dataclass
class SeededAccount:
    users: List[str]
    keys: List[SeededKey]

    def keys_of(self, user_name: str) -> List[SeededKey]:
        return [key for key in self.keys if key.user_name == user_name]

    def key(self, access_key_id: str) -> SeededKey:
        return next(key for key in self.keys if key.access_key_id == access_key_id)

    def due(self, max_age_days: int) -> List[SeededKey]:
        return [key for key in self.keys if key.active and key.age_days >= max_age_days]

    def unused(self, days: int) -> List[SeededKey]:
        return [key for key in self.keys if key.unused_for(days)]

    def two_active(self) -> List[str]:
        counts: Dict[str, int] = {}
        for key in self.keys:
            if key.active:
                counts[key.user_name] = counts.get(key.user_name, 0) + 1
        return sorted(user for user, count in counts.items() if count == 2)

    def secrets(self) -> List[str]:
        return [key.secret_access_key for key in self.keys]


def mixed_profile(rng: random.Random, max_age: int = 400) -> List[Dict[str, object]]:
    """Key specs for one user of a realistic account (see the module docstring)."""
    roll = rng.random()
    if roll < 0.10:
        return []
    # Most keys are within a 90-day policy, a long tail is not.
    first_age = rng.randint(0, 89) if rng.random() < 0.6 else rng.randint(90, max(90, max_age))
    first = _key_spec(rng, first_age, "Active")
    if roll < 0.65:
        return [first]
    # Two keys: the second is younger than the first; a third of them are Inactive leftovers.
    second_age = rng.randint(0, int(first["age_days"]))
    second = _key_spec(rng, second_age, "Inactive" if rng.random() < 0.33 else "Active")
    return [first, second]


def _key_spec(rng: random.Random, age: int, status: str) -> Dict[str, object]:
    spec: Dict[str, object] = {"age_days": age, "status": status}
    roll = rng.random()
    if roll < 0.70:
        spec["last_used_days_ago"] = min(age, rng.randint(0, 30))
    elif roll < 0.85:
        spec["last_used_days_ago"] = min(age, rng.randint(60, 300))
    else:
        return spec  # never used
    spec["service"] = rng.choice(("s3", "sts", "dynamodb", "sqs"))
    spec["region"] = rng.choice(("us-east-1", "eu-west-1", "ap-southeast-2"))
    return spec


def seed_account(
    endpoint,
    users: int = 100,
    prefix: str = "seed-user",
    rng_seed: int = 0,
    max_age: int = 400,
    profiles: Optional[Sequence[Sequence[Dict[str, object]]]] = None,
) -> SeededAccount:
    """Create ``users`` IAM users named ``<prefix>-0001``... with keys, through ``endpoint.seed``.

    ``profiles[i]`` (optional) gives user i's keys exactly: a list of at most two dicts with
    ``age_days``, ``status`` (Active/Inactive), ``last_used_days_ago`` (None: never),
    ``service`` and ``region``; otherwise ``mixed_profile`` draws them. Returns what was made,
    secrets included (never print them; grep outputs for them).
    """
    rng = random.Random(rng_seed)
    width = max(4, len(str(users)))
    specs = []
    for index in range(users):
        keys = list(profiles[index]) if profiles is not None else mixed_profile(rng, max_age)
        specs.append({"user_name": f"{prefix}-{index + 1:0{width}d}", "keys": keys})
    account = SeededAccount(users=[spec["user_name"] for spec in specs], keys=[])
    for start in range(0, len(specs), SEED_BATCH):
        batch = specs[start:start + SEED_BATCH]
        answer = endpoint.seed(batch)
        for spec, made in zip(batch, answer["users"]):
            for position, (key_spec, key) in enumerate(zip(spec["keys"], made["keys"]), 1):
                used = key_spec.get("last_used_days_ago")
                account.keys.append(
                    SeededKey(
                        user_name=made["user_name"],
                        position=position,
                        access_key_id=key["access_key_id"],
                        secret_access_key=key["secret_access_key"],
                        status=key["status"],
                        age_days=int(key_spec.get("age_days", 0)),
                        last_used_days_ago=None if used is None else int(used),
                        last_used_service=key_spec.get("service", "s3") if used is not None else None,
                        last_used_region=key_spec.get("region", endpoint.region) if used is not None else None,
                    )
                )
    return account
