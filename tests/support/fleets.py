"""Fleets of local or SSH hosts (tests/fleet wrapped, not changed) for one test: started, inventory written, stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from fleet.fleet import Fleet

from .iam import seed_user


class Fleets:
    """Factory behind the ``fleets`` fixture: every fleet it starts is stopped when the test ends."""

    def __init__(self, endpoint, workdir: Path):
        self.endpoint, self.workdir = endpoint, Path(workdir)
        self.started: List[Fleet] = []

    def start(self, users: Union[str, Dict[str, str], None], initial_keys: Optional[Dict[str, Tuple[str, str]]] = None,
              size: Optional[int] = None, mode: str = "local", name: Optional[str] = None, endpoint=None, **options) -> Fleet:
        """A started fleet on ``endpoint`` (default: the test's) whose hosts hold ``initial_keys`` ({user: (id, secret)});
        ``users``: one user for all hosts or {host: user} (``size`` defaults to its length); ``options`` go to Fleet."""
        endpoint = endpoint or self.endpoint
        size = size or (len(users) if isinstance(users, dict) else 2)
        fleet = Fleet(str(self.workdir / (name or f"fleet{len(self.started) + 1}")), size, mode=mode, endpoint_url=endpoint.endpoint_url,
                      region=endpoint.region, users=users, initial_keys=initial_keys, **options)
        self.started.append(fleet)
        fleet.start()
        fleet.write_inventory()
        return fleet

    def seeded(self, user: str, size: int = 2, age_days: float = 120, **options) -> Tuple[Fleet, str, str]:
        """A user with one ``age_days``-old key held by every host of a new fleet: (fleet, key id, secret)."""
        key_id, secret = seed_user(self.endpoint, user, age_days)
        return self.start(user, {user: (key_id, secret)}, size=size, name=options.pop("name", user), **options), key_id, secret

    def stop(self) -> None:
        for fleet in self.started:
            fleet.stop()
