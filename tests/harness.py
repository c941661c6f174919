"""Earlier home of the environment builder and the secret scan: both now live in the support package
(tests/support, see its README.md); these names stay for code not yet moved to it."""

from __future__ import annotations

from support.env import COLLECTIONS_PATH, REPO, ansible_env  # noqa: F401  pylint: disable=unused-import
from support.secrets import assert_no_leaks, leaks_in_files, leaks_in_texts, secret_lines  # noqa: F401  pylint: disable=unused-import
