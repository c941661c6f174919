# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper: record when each task starts and when each host reports, as JSON.

Enabled only by benchmarks/bench.py (ANSIBLE_CALLBACK_PLUGINS + ANSIBLE_CALLBACKS_ENABLED);
writes to the file named by $ROTOR_BENCH_TIMING_FILE when the playbook ends. No task
arguments or results are recorded, only names, hosts, statuses and times.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: rotor_bench_timing
type: aggregate
short_description: Task and host timings for the rotor.iam benchmarks
description:
  - Writes task start times and per-host result times to the file named by E(ROTOR_BENCH_TIMING_FILE).
requirements:
  - enabled in the configuration
"""


class CallbackModule(CallbackBase):
    """Collect timings in memory; write them once, at the end of the playbook."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "rotor_bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.began = time.time()
        self.tasks = []
        self.plays = []

    def _task_started(self, task, kind="task"):
        self.tasks.append({
            "name": task.get_name(),
            "action": task.action,
            "kind": kind,
            "play": len(self.plays),
            "start": time.time() - self.began,
            "hosts": {},
        })

    def _host_done(self, result, status):
        if not self.tasks:
            return
        self.tasks[-1]["hosts"][result._host.get_name()] = [status, time.time() - self.began]  # pylint: disable=protected-access

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"name": play.get_name(), "start": time.time() - self.began})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_started(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task_started(task, "handler")

    def v2_runner_on_ok(self, result):
        self._host_done(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._host_done(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._host_done(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._host_done(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("ROTOR_BENCH_TIMING_FILE")
        if not path:
            return
        record = {"plays": self.plays, "tasks": self.tasks, "end": time.time() - self.began}
        with open(path, "w") as handle:
            json.dump(record, handle)
