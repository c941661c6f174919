"""One support package for the integration tests (see README.md): the environment of a run, the playbook runner and
its one result class, the secret scan, the IAM endpoint and the fleets."""

from .env import COLLECTIONS_PATH, REPO, ansible_env, clean_env, job_envvars, short_tmpdir, tool
from .iam import IAM_LAG_SECONDS, key_statuses, seed_user, start_endpoint, wait_until_accepted
from .runner import IAM_WRITES, PLAYBOOK_TIMEOUT, PlaybookProcess, PlaybookResult, RunnerJobProcess, ansible_playbook, rotor_vars
from .runner import run_playbook, run_runner_job, spawn_playbook
from .tables import plan_row, summary_rows, table_rows
from .secrets import assert_no_leaks, assert_no_secrets, leaks_in_files, leaks_in_texts, saved_secrets, secret_lines

__all__ = [
    "COLLECTIONS_PATH", "REPO", "ansible_env", "clean_env", "job_envvars", "short_tmpdir", "tool",
    "IAM_LAG_SECONDS", "key_statuses", "seed_user", "start_endpoint", "wait_until_accepted",
    "IAM_WRITES", "PLAYBOOK_TIMEOUT", "PlaybookProcess", "PlaybookResult", "RunnerJobProcess", "ansible_playbook", "rotor_vars",
    "run_playbook", "run_runner_job",
    "spawn_playbook", "assert_no_leaks", "assert_no_secrets", "leaks_in_files", "leaks_in_texts", "saved_secrets",
    "secret_lines", "plan_row", "summary_rows", "table_rows",
]
