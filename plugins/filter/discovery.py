# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# Each filter is documented in plugins/filter/<name>.yml (ansible-doc -t filter rotor.iam.<name>).

from ansible_collections.rotor.iam.plugins.module_utils._discover.consumers import ConsumerMapError
from ansible_collections.rotor.iam.plugins.module_utils._discover.consumers import DEFAULT_RECENT_DAYS
from ansible_collections.rotor.iam.plugins.module_utils._discover.consumers import collect_hosts
from ansible_collections.rotor.iam.plugins.module_utils._discover.consumers import consumer_map as _consumer_map
from ansible_collections.rotor.iam.plugins.plugin_utils.filter_guard import filter_guard


@filter_guard("consumer_map", ConsumerMapError,
              expects="the play's host names, hostvars and the registered rotor.iam.access_key_info result")
def consumer_map(host_names, hostvars, key_info=None, recent_days=DEFAULT_RECENT_DAYS):
    """The consumer map of the hosts that ran rotor.iam.discover's host play, joined with access_key_info's result."""
    hosts = collect_hosts(hostvars, list(host_names))
    return _consumer_map(hosts, key_info=key_info or None, recent_days=int(recent_days))


class FilterModule:
    def filters(self):
        return {"consumer_map": consumer_map}
