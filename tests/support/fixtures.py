"""The integration tests' pytest fixtures: the endpoint (one per session), fleets, a playbook runner.

tests/integration/conftest.py imports them all; a test only names them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .fleets import Fleets
from .iam import settle, start_endpoint
from .runner import PlaybookResult, run_playbook
from .secrets import assert_no_secrets


@pytest.fixture(scope="session")
def iam_endpoint(tmp_path_factory):
    """The one IAM endpoint of the session (of each xdist worker), lagging like AWS; test files share it
    through ``endpoint`` (state kept, tests make their own users) or ``empty_endpoint`` (reset)."""
    # Generous: every test of this worker needs it, and moto's import alone takes long on a loaded machine.
    endpoint = start_endpoint(str(tmp_path_factory.mktemp("iam-endpoint")), timeout=180)
    with endpoint:
        yield endpoint


@pytest.fixture
def empty_endpoint(iam_endpoint):
    """The session endpoint reset to an empty account (only rotor-admin): no IAM state, faults or counters,
    the lags it started with."""
    iam_endpoint.reset()
    yield iam_endpoint
    iam_endpoint.reset()  # the next test of the plain ``endpoint`` fixture finds no account-wide leftovers


@pytest.fixture
def endpoint(iam_endpoint):
    """The session endpoint without faults or counters left by an earlier test, lagging like AWS."""
    settle(iam_endpoint)
    yield iam_endpoint
    settle(iam_endpoint)


@pytest.fixture
def fleets(iam_endpoint, tmp_path):
    """Factory of fleets on the session endpoint (``fleets.start(...)``, ``fleets.seeded(user, size)``), stopped afterwards."""
    factory = Fleets(iam_endpoint, tmp_path)
    yield factory
    factory.stop()


@pytest.fixture
def run_ansible(iam_endpoint, tmp_path):
    """Runner: ``run_ansible(PLAYBOOK, secrets=..., **spawn_playbook options)`` runs it against the session endpoint in
    ``tmp_path/runs`` and, before returning the result, scans everything it printed, logged, reported or left in its
    TMPDIR for ``secrets`` (and the admin secret)."""
    numbers = iter(range(1, 1000))

    def run(name, secrets=(), **options) -> PlaybookResult:
        options.setdefault("label", f"run{next(numbers)}")
        options.setdefault("endpoint", iam_endpoint)
        result = run_playbook(name, Path(options.pop("workdir", tmp_path / "runs")), **options)
        labelled = dict(secrets) if isinstance(secrets, dict) else {f"secret #{i}": s for i, s in enumerate(secrets)}
        labelled["admin secret"] = iam_endpoint.admin_secret_access_key
        assert_no_secrets(result, labelled)
        return result

    return run
