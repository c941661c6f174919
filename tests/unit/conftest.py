"""Make ``ansible_collections.rotor.iam`` (in .build/collections) and ``fake_iam`` importable."""

import os
import sys

# The tree scripts/env.sh selects (each ansible line has its own amazon.aws), else the default one.
COLLECTIONS_PATH = os.path.abspath(os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)[0]
                                   or os.path.join(os.path.dirname(__file__), "..", "..", ".build", "collections"))
if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)
# fake_iam.py, the one fake IAM client of the unit tests, is imported by name.
UNIT_TESTS = os.path.dirname(os.path.abspath(__file__))
if UNIT_TESTS not in sys.path:
    sys.path.insert(0, UNIT_TESTS)


import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Properties are judged by their examples, not their speed: CI shares two cores with SSH fleets, and a slow example
# there is not a failure.
settings.register_profile("rotor", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("rotor")


@pytest.fixture(autouse=True)
def module_side_warnings(monkeypatch):
    """Module code under test runs as on a host: its warnings go into the module result.

    ansible-core keeps them in process-wide dicts, and once any controller code is imported in the same
    process (the filter tests import ansible.errors) it sends them to the controller's display instead.
    Each test starts with none, on the module side.
    """
    from ansible.module_utils import _internal  # pylint: disable=import-outside-toplevel
    from ansible.module_utils.common import warnings  # pylint: disable=import-outside-toplevel

    if hasattr(_internal, "is_controller"):  # ansible-core 2.19 and later; 2.18 has no controller-side routing
        monkeypatch.setattr(_internal, "is_controller", False)
    warnings._global_warnings.clear()  # pylint: disable=protected-access
    warnings._global_deprecations.clear()  # pylint: disable=protected-access
    yield
