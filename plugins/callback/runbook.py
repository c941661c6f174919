# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rotor.iam.runbook: a stdout callback that prints a rotation as a short runbook."""

from __future__ import annotations

DOCUMENTATION = r"""
name: runbook
type: stdout
short_description: Short screen output that reads like a runbook
version_added: 0.2.0
description:
  - A stdout callback for C(ansible-playbook) runs of the rotor.iam roles, quieter than the default one.
  - Play banners and the recap are printed as usual.
  - A task banner is printed only when the task has something to show.
  - A result that is ok and unchanged is not shown, except for a C(debug) task, whose C(msg) (a string or a list of lines)
    is printed as plain lines without the C(ok) wrapper, such as the plan, the progress and the summary tables of rotor.iam.rotate.
  - A changed result is one line per host, C(changed) followed by the host, even for a loop.
  - A failed or unreachable result is shown in full as the default callback shows it, an ignored one followed by C(...ignoring);
    only a failed argument validation leaves out the whole argument spec below verbosity 2 (its message names the option and its allowed values).
  - Warnings and deprecations are shown as usual; include lines are not shown.
  - A result hidden by C(no_log) is printed only as the default callback prints it (censored), without the error line
    in which ansible-core repeats a failed task's message.
  - Its options are those of the default callback. Select it with C(stdout_callback = rotor.iam.runbook) in the
    C([defaults]) section of C(ansible.cfg).
extends_documentation_fragment:
  - ansible.builtin.default_callback
  - ansible.builtin.result_format_callback
requirements:
  - set as the stdout callback in ansible.cfg (C(stdout_callback = rotor.iam.runbook))
"""

from ansible import constants as C
from ansible import context
from ansible.playbook.task_include import TaskInclude
from ansible.plugins.callback import CallbackBase
from ansible.utils.color import colorize, hostcolor
from ansible.utils.fqcn import add_internal_fqcns

DEBUG_ACTIONS = frozenset(add_internal_fqcns(("debug",)))
ARGSPEC_ACTIONS = frozenset(add_internal_fqcns(("validate_argument_spec",)))
FREE_STRATEGIES = frozenset(add_internal_fqcns(("free", "host_pinned")))
NO_LOG_KEY = "_ansible_no_log"


def message_lines(msg):
    """The lines a debug message prints: a string split at its line breaks, a list one item a line; None for anything else."""
    if isinstance(msg, str):
        return msg.splitlines() or [""]
    if isinstance(msg, (list, tuple)) and all(isinstance(item, (str, int, float)) for item in msg):
        return [str(item) for item in msg]
    return None


def is_censored(res):
    """True for a result that no_log hid (its content is never printed)."""
    return bool(res.get(NO_LOG_KEY)) or "censored" in res


class CallbackModule(CallbackBase):
    """Prints what an operator acts on: the tables of debug tasks, what changed, what failed, the recap."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "rotor.iam.runbook"

    def __init__(self):
        super().__init__()
        self.play = None
        self.task_prefix = "TASK"
        self.task_name = None
        self.banner_shown = None

    # Banners

    def v2_playbook_on_start(self, playbook):
        if context.CLIARGS.get("check") and self.get_option("check_mode_markers"):
            self._display.banner("DRY RUN")

    def v2_playbook_on_play_start(self, play):
        self.play = play
        name = play.get_name().strip()
        check = " [CHECK MODE]" if play.check_mode and self.get_option("check_mode_markers") else ""
        self._display.banner("PLAY [%s]%s" % (name, check) if name else "PLAY%s" % check)

    def start_task(self, task, prefix):
        """A task starts: remember its name (the templated one of this moment), print its banner only when it shows something."""
        self.task_prefix = prefix
        free = self.play is not None and self.play.strategy in FREE_STRATEGIES
        self.task_name = None if free else task.get_name().strip()
        self.banner_shown = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.start_task(task, "TASK")

    def v2_playbook_on_handler_task_start(self, task):
        self.start_task(task, "RUNNING HANDLER")

    def banner(self, task):
        """Print the banner of ``task`` once, before its first line."""
        name = self.task_name or task.get_name().strip()
        if self.banner_shown == name:
            return
        check = " [CHECK MODE]" if task.check_mode and self.get_option("check_mode_markers") else ""
        self._display.banner("%s [%s]%s" % (self.task_prefix, name, check))
        if self._display.verbosity >= 2:
            self._print_task_path(task)
        self.banner_shown = name

    def show_warnings(self, result):
        """Warnings, deprecations and the exception of a result, as the default callback shows them (banner first when any)."""
        if is_censored(result.result):
            # ansible-core's error line repeats a failed task's message even when no_log hid the result: never print it.
            result.result.pop("exception", None)
        if result.result.get("warnings") or result.result.get("deprecations") or result.result.get("exception"):
            self.banner(result.task)
        self._handle_warnings_and_exception(result)

    def v2_runner_on_start(self, host, task):
        if self.get_option("show_per_host_start"):
            self._display.display(" [started %s on %s]" % (task, host), color=C.COLOR_OK)

    # Results

    def is_debug(self, result):
        return result.task.action in DEBUG_ACTIONS

    def print_debug(self, result, item=False):
        """A debug result: its msg as plain lines; anything else (a var, a censored result) as the default callback prints it."""
        self.banner(result.task)
        self.show_warnings(result)
        res = result.result
        lines = None if is_censored(res) else message_lines(res.get("msg"))
        if lines is not None:
            for line in lines:
                self._display.display(line, color=C.COLOR_OK)
            return
        self._clean_results(res, result.task.action)
        label = " => (item=%s)" % self._get_item_label(res) if item else ""
        self._display.display("ok: [%s]%s => %s" % (self.host_label(result), label, self._dump_results(res)), color=C.COLOR_OK)

    def v2_runner_on_ok(self, result):
        if isinstance(result.task, TaskInclude):
            self.show_warnings(result)
            return
        looped = result.task.loop and "results" in result.result
        if self.is_debug(result) and not looped:
            self.print_debug(result)
            return
        if result.result.get("changed", False):
            self.banner(result.task)
            self.show_warnings(result)
            self._display.display("changed: [%s]" % self.host_label(result), color=C.COLOR_CHANGED)
            return
        self.show_warnings(result)

    def v2_runner_item_on_ok(self, result):
        if isinstance(result.task, TaskInclude):
            return
        if self.is_debug(result):
            self.print_debug(result, item=True)
            return
        self.show_warnings(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.banner(result.task)
        self.show_warnings(result)
        self._clean_results(result.result, result.task.action)
        if result.task.action in ARGSPEC_ACTIONS and self._display.verbosity < 2:
            # Its message names the option and the allowed values; the whole argument spec (hundreds of lines) only at -vv.
            result.result.pop("argument_spec_data", None)
        if result.task.loop and "results" in result.result:
            del result.result["results"]  # each failed item was shown by v2_runner_item_on_failed
        else:
            if self._display.verbosity < 2 and self.get_option("show_task_path_on_failure"):
                self._print_task_path(result.task)
            self._display.display("fatal: [%s]: FAILED! => %s" % (self.host_label(result), self._dump_results(result.result)),
                                  color=C.COLOR_ERROR, stderr=self.get_option("display_failed_stderr"))
        if ignore_errors:
            self._display.display("...ignoring", color=C.COLOR_SKIP)

    def v2_runner_item_on_failed(self, result):
        self.banner(result.task)
        self.show_warnings(result)
        self._clean_results(result.result, result.task.action)
        self._display.display("failed: [%s] (item=%s) => %s" % (self.host_label(result), self._get_item_label(result.result),
                                                                self._dump_results(result.result)),
                              color=C.COLOR_ERROR, stderr=self.get_option("display_failed_stderr"))

    def v2_runner_on_unreachable(self, result):
        self.banner(result.task)
        self.show_warnings(result)
        self._display.display("fatal: [%s]: UNREACHABLE! => %s" % (self.host_label(result), self._dump_results(result.result)),
                              color=C.COLOR_UNREACHABLE, stderr=self.get_option("display_failed_stderr"))
        if result.task.ignore_unreachable:
            self._display.display("...ignoring", color=C.COLOR_SKIP)

    def v2_runner_on_skipped(self, result):
        if not self.get_option("display_skipped_hosts"):
            return
        self.banner(result.task)
        self.show_warnings(result)
        if not (result.task.loop and "results" in result.result):
            self._display.display("skipping: [%s]" % result.host.get_name(), color=C.COLOR_SKIP)

    def v2_runner_item_on_skipped(self, result):
        if not self.get_option("display_skipped_hosts"):
            return
        self.banner(result.task)
        self.show_warnings(result)
        self._display.display("skipping: [%s] => (item=%s)" % (result.host.get_name(), self._get_item_label(result.result)), color=C.COLOR_SKIP)

    def v2_runner_retry(self, result):
        left = result.result.get("retries", 0) - result.result.get("attempts", 0)
        self._display.display("FAILED - RETRYING: [%s]: %s (%d retries left)." % (self.host_label(result), result.task.get_name(), left),
                              color=C.COLOR_DEBUG)

    def v2_on_file_diff(self, result):
        results = result.result.get("results") if result.task.loop else None
        for res in results if results is not None else [result.result]:
            if res.get("diff") and res.get("changed", False):
                diff = self._get_diff(res["diff"])
                if diff:
                    self.banner(result.task)
                    self._display.display(diff)

    def v2_playbook_on_include(self, included_file):
        """Include lines are not shown: the included tasks show what they do."""

    def v2_playbook_on_no_hosts_matched(self):
        self._display.display("skipping: no hosts matched", color=C.COLOR_SKIP)

    def v2_playbook_on_no_hosts_remaining(self):
        self._display.banner("NO MORE HOSTS LEFT")

    # The end

    def v2_playbook_on_stats(self, stats):
        self._display.banner("PLAY RECAP")
        for host in sorted(stats.processed.keys()):
            counts = stats.summarize(host)
            self._display.display("%s : %s %s %s %s %s %s %s" % (
                hostcolor(host, counts),
                colorize("ok", counts["ok"], C.COLOR_OK),
                colorize("changed", counts["changed"], C.COLOR_CHANGED),
                colorize("unreachable", counts["unreachable"], C.COLOR_UNREACHABLE),
                colorize("failed", counts["failures"], C.COLOR_ERROR),
                colorize("skipped", counts["skipped"], C.COLOR_SKIP),
                colorize("rescued", counts["rescued"], C.COLOR_OK),
                colorize("ignored", counts["ignored"], C.COLOR_WARN),
            ), screen_only=True)
            self._display.display("%s : %s %s %s %s %s %s %s" % (
                hostcolor(host, counts, False),
                colorize("ok", counts["ok"], None),
                colorize("changed", counts["changed"], None),
                colorize("unreachable", counts["unreachable"], None),
                colorize("failed", counts["failures"], None),
                colorize("skipped", counts["skipped"], None),
                colorize("rescued", counts["rescued"], None),
                colorize("ignored", counts["ignored"], None),
            ), log_only=True)
        self._display.display("", screen_only=True)
        if self.get_option("show_custom_stats") and stats.custom:
            self._display.banner("CUSTOM STATS: ")
            for host in sorted(stats.custom.keys()):
                if host == "_run":
                    continue
                self._display.display("\t%s: %s" % (host, self._dump_results(stats.custom[host], indent=1).replace("\n", "")))
            if "_run" in stats.custom:
                self._display.display("", screen_only=True)
                self._display.display("\tRUN: %s" % self._dump_results(stats.custom["_run"], indent=1).replace("\n", ""))
            self._display.display("", screen_only=True)
        if context.CLIARGS.get("check") and self.get_option("check_mode_markers"):
            self._display.banner("DRY RUN")
