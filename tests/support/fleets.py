"""Fleets of local or SSH hosts (tests/fleet wrapped, not changed) for one test: started, inventory written, stopped."""

from __future__ import annotations

import glob
import json
import os
import socket
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple, Union

from fleet.fleet import CONSUMER_PORT, SSH_PORT, Fleet, FleetError

from .iam import seed_user

# tests/fleet claims its 127.0.X.0/24 ranges in a directory under TMPDIR: sessions run with other TMPDIRs (other
# worktrees, other helpers) claim elsewhere, so every claim directory we can see is honoured before picking one.
CLAIM_DIRS = ("/tmp/rotor-fleet-claims", "/tmp/*/rotor-fleet-claims", "/tmp/*/*/rotor-fleet-claims")


def _claimed_elsewhere() -> Set[int]:
    claimed = set()
    for pattern in CLAIM_DIRS:
        for path in glob.glob(os.path.join(pattern, "127.0.*.json")):
            try:
                with open(path, encoding="utf-8") as handle:
                    os.kill(int(json.load(handle)["owner"]), 0)
                claimed.add(int(os.path.basename(path).split(".")[2]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return claimed


def _free(net: int, size: int, ports) -> bool:
    for index in range(1, size + 1):
        for port in ports:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((f"127.0.{net}.{index}", port))
                except OSError:
                    return False
    return True


def free_net(size: int, mode: str, skip: Set[int] = frozenset()) -> Optional[int]:
    """A 127.0.X.0/24 no live fleet of any session claims and whose ports are free (None: let Fleet pick)."""
    claimed = _claimed_elsewhere() | set(skip)
    ports = (CONSUMER_PORT, SSH_PORT) if mode == "ssh" else (CONSUMER_PORT,)
    return next((net for net in range(1, 255) if net not in claimed and _free(net, size, ports)), None)


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
        tried: Set[int] = set()
        while True:
            net = options.get("net") or free_net(size, mode, tried)
            fleet = Fleet(str(self.workdir / (name or f"fleet{len(self.started) + 1}")), size, mode=mode, endpoint_url=endpoint.endpoint_url,
                          region=endpoint.region, users=users, initial_keys=initial_keys, **dict(options, net=net))
            try:
                fleet.start()
            except FleetError as exc:
                # Claimed in the meantime by another session: the next free range (a fleet that failed otherwise fails again).
                if options.get("net") or net is None or "no free address range" not in str(exc) or len(tried) > 5:
                    raise
                tried.add(net)
                continue
            self.started.append(fleet)
            fleet.write_inventory()
            return fleet

    def seeded(self, user: str, size: int = 2, age_days: float = 120, **options) -> Tuple[Fleet, str, str]:
        """A user with one ``age_days``-old key held by every host of a new fleet: (fleet, key id, secret)."""
        key_id, secret = seed_user(self.endpoint, user, age_days)
        return self.start(user, {user: (key_id, secret)}, size=size, name=options.pop("name", user), **options), key_id, secret

    def stop(self) -> None:
        for fleet in self.started:
            fleet.stop()
