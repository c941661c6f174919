"""``patch_module_args``: run a module's ``main()`` with these arguments, on every supported ansible-core.

ansible-core 2.19 and later provide it publicly (``ansible.module_utils.testing``); 2.18 has no public way, and
the arguments are read from ``basic._ANSIBLE_ARGS``, which is what unit tests of collections patch there.
"""

import contextlib
import json

try:
    from ansible.module_utils.testing import patch_module_args  # noqa: F401  pylint: disable=unused-import
except ImportError:  # ansible-core 2.18
    from unittest import mock

    @contextlib.contextmanager
    def patch_module_args(args=None):
        from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel

        encoded = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode("utf-8")
        with mock.patch.object(basic, "_ANSIBLE_ARGS", encoded):
            yield
