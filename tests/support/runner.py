"""The playbook runner and its one result class.

``run_playbook`` / ``spawn_playbook`` start ``ansible-playbook`` (a playbook path or an FQCN) with the
environment of ``support.env``, extra variables through a 0600 JSON vars file, a log file and a short
private TMPDIR; the endpoint's call counters are reset just before the run and read right after it.
Every run ends in a ``PlaybookResult``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from .env import ansible_env, clean_env, short_tmpdir, tool

# Seconds before a playbook run is killed: generous, a run that hangs is rare, a busy machine (two cores, SSH fleets) is not.
PLAYBOOK_TIMEOUT = 600
IAM_WRITES = ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")
_RESULT_LINE = re.compile(r"^(ok|changed|fatal|failed|skipping): \[([^\]]+)\](?: => \(item=[^\n]*?\))?(?:: FAILED!)? => ", re.M)


def ansible_playbook() -> str:
    return tool("ansible-playbook")


def rotor_vars(endpoint) -> Dict[str, str]:
    """The connection variables of the rotor.iam playbooks for ``endpoint``."""
    return {"rotor_aws_endpoint_url": endpoint.endpoint_url, "rotor_aws_region": endpoint.region}


@dataclass
class PlaybookResult:
    """One finished run: exit code, what it printed and logged, the endpoint's calls during it."""

    command: List[str]
    returncode: int
    stdout: str = field(repr=False)  # with ``combined=True``: stdout and stderr interleaved as written
    stderr: str = field(repr=False, default="")
    log: str = field(repr=False, default="")  # ANSIBLE_LOG_PATH's content
    log_path: Optional[Path] = None
    seconds: float = 0.0
    calls: Dict[str, int] = field(repr=False, default_factory=dict)  # endpoint call counters of this run
    faulted: Dict[str, int] = field(repr=False, default_factory=dict)  # calls the endpoint answered with an injected fault
    label: str = "run"
    workdir: Optional[Path] = None
    tmpdir: Optional[Path] = None  # the run's TMPDIR, scanned for leftovers
    report_dir: Optional[Path] = None  # where the run was told to write its reports (the audit)
    report_name: str = "rotor-iam-audit"
    # An ansible-runner job (AWX): its status, job events and artifact directory, and the runner CLI's own output.
    status: str = ""
    events: List[Dict[str, Any]] = field(repr=False, default_factory=list)
    artifact_dir: Optional[Path] = None
    cli_output: str = field(repr=False, default="")
    cli_returncode: Optional[int] = None

    # ------------------------------------------------------------ what it printed

    @property
    def rc(self) -> int:
        return self.returncode

    @property
    def output(self) -> str:
        """stdout and stderr (one text for a combined run)."""
        return self.stdout + ("\n" + self.stderr if self.stderr else "")

    @property
    def everything(self) -> str:
        return "\n".join((self.stdout, self.stderr, self.log))

    def outputs(self) -> Dict[str, str]:
        """Everything the run printed, logged or reported, by name, to grep for secrets."""
        texts = {"stdout": self.stdout, "stderr": self.stderr, "log": self.log, "the ansible-runner output": self.cli_output}
        for path in self.report_paths():
            if path.exists():
                texts[path.name] = path.read_text(errors="replace")
        return texts

    def leftovers(self) -> List[Path]:
        """Where the run may have left files of its own (its TMPDIR)."""
        return [self.tmpdir] if self.tmpdir else []

    def explain(self) -> str:
        if self.artifact_dir is not None:
            return (
                f"ansible-runner job {self.label} in {self.workdir}: status={self.status!r} rc={self.returncode} after {self.seconds:.1f}s\n"
                f"--- stdout (tail)\n{self.stdout[-7000:]}\n--- runner CLI (tail)\n{self.cli_output[-1500:]}"
            )
        return (
            f"{' '.join(map(str, self.command))} exited {self.returncode} after {self.seconds:.1f}s; calls {self.calls}; "
            f"log {self.log_path}\n--- stdout (tail)\n{self.stdout[-7000:]}\n--- stderr (tail)\n{self.stderr[-2000:]}"
        )

    # ------------------------------------------------------------ an ansible-runner job

    @classmethod
    def from_runner_job(cls, private_data_dir: Path, ident: str, command: List[str], cli_returncode: int, cli_output: str,
                        seconds: float, calls: Dict[str, int]) -> "PlaybookResult":
        """What AWX keeps of one ``ansible-runner run``: status, rc and stdout from its artifacts, its job events."""
        artifacts = Path(private_data_dir) / "artifacts" / ident

        def read(name: str) -> str:
            path = artifacts / name
            return path.read_text(errors="replace").strip() if path.exists() else ""

        events = [json.loads(path.read_text())
                  for path in sorted((artifacts / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0]))]
        return cls(command, int(read("rc") or -1), read("stdout"), "", "", artifacts / "stdout", seconds, calls, label=ident,
                   workdir=Path(private_data_dir), status=read("status"), events=events, artifact_dir=artifacts,
                   cli_output=cli_output, cli_returncode=cli_returncode)

    def events_of(self, *kinds: str) -> List[Dict[str, Any]]:
        return [event for event in self.events if event.get("event") in kinds]

    @property
    def artifacts(self) -> Dict:
        """The job's artifacts: the set_stats data of the playbook_on_stats event."""
        stats = self.events_of("playbook_on_stats")
        assert stats, f"no playbook_on_stats event\n{self.explain()}"
        return stats[-1]["event_data"].get("artifact_data") or {}

    # ------------------------------------------------------------ the endpoint's view

    def writes(self) -> Dict[str, int]:
        """The run's calls of the IAM actions that change keys (zeros included)."""
        return {action: self.calls.get(action, 0) for action in IAM_WRITES}

    @property
    def iam_calls(self) -> int:
        return sum(self.calls.values())

    # ------------------------------------------------------------ task results (stdout of the default callback)

    def task_results(self) -> List[Dict[str, Any]]:
        """Every task result printed as JSON (verbosity >= 1 or a failure): ``{"status", "host", "ignored", **result}``."""
        decoder, found = json.JSONDecoder(), []
        for match in _RESULT_LINE.finditer(self.stdout):
            try:
                result, end = decoder.raw_decode(self.stdout, match.end())
            except ValueError:
                continue
            if isinstance(result, dict):
                ignored = self.stdout[end:end + 20].lstrip().startswith("...ignoring")
                found.append(dict(result, status=match.group(1), host=match.group(2), ignored=ignored))
        return found

    def messages(self) -> List[str]:
        """The ``msg`` of every printed task result, in order."""
        return [str(result["msg"]) for result in self.task_results() if "msg" in result]

    def failure_messages(self) -> List[str]:
        """The ``msg`` of every failed task, ignored failures apart, in order."""
        return [str(r.get("msg")) for r in self.task_results() if r["status"] in ("fatal", "failed") and not r["ignored"]]

    def recap(self) -> Dict[str, Dict[str, int]]:
        """{host: {ok, changed, unreachable, failed, ...}} from PLAY RECAP."""
        found = {}
        tail = self.stdout.split("PLAY RECAP", 1)[1] if "PLAY RECAP" in self.stdout else ""
        for host, counters in re.findall(r"^(\S+)\s+: (ok=.*)$", tail, flags=re.M):
            found[host] = {name: int(value) for name, value in re.findall(r"(\w+)=(\d+)", counters)}
        return found

    # ------------------------------------------------------------ reports it wrote

    def report_paths(self) -> List[Path]:
        if self.report_dir is None:
            return []
        return [self.report_dir / f"{self.report_name}.{ext}" for ext in ("json", "md", "html")]

    @property
    def json_path(self) -> Path:
        return self.report_paths()[0]

    @property
    def markdown_path(self) -> Path:
        return self.report_paths()[1]

    @property
    def html_path(self) -> Path:
        return self.report_paths()[2]

    def report(self) -> Dict:
        return json.loads(self.json_path.read_text())


class PlaybookProcess:
    """A running playbook: wait for it, or SIGKILL it (and its workers) mid-run."""

    def __init__(self, command: List[str], env: Dict[str, str], workdir: Path, label: str, log_path: Optional[Path],
                 endpoint=None, timeout: float = PLAYBOOK_TIMEOUT, combined: bool = False, tmpdir: Optional[Path] = None,
                 report_dir: Optional[Path] = None, cwd: Optional[Path] = None):
        self.command, self.workdir, self.label, self.log_path, self.endpoint = command, workdir, label, log_path, endpoint
        self.timeout, self.combined, self.tmpdir, self.report_dir = timeout, combined, tmpdir, report_dir
        self.stdout_path, self.stderr_path = workdir / f"{label}.stdout", workdir / f"{label}.stderr"
        self.began = time.monotonic()
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            # Its own process group, so a kill takes the forked workers and their modules with it.
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                command, env=env, cwd=cwd or workdir, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT if combined else err, start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the whole run (ansible-playbook and its workers), as a cancelled job or a dead controller would."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: Optional[float] = None) -> PlaybookResult:
        try:
            returncode = self.process.wait(self.timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            returncode = self.process.wait(10)
        seconds = time.monotonic() - self.began
        counters = self.endpoint.calls() if self.endpoint is not None else {}
        log = self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""
        return PlaybookResult(self.command, returncode, self.stdout_path.read_text(errors="replace"),
                              self.stderr_path.read_text(errors="replace"), log, self.log_path, seconds,
                              counters.get("calls", {}), counters.get("faulted", {}), self.label, self.workdir, self.tmpdir,
                              self.report_dir)


def _write_private(path: Path, text: str) -> None:
    if path.exists():
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def spawn_playbook(
    playbook,
    workdir: Path,
    endpoint=None,
    inventories: Iterable[str] = (),
    extra_vars: Optional[Dict[str, object]] = None,
    check: bool = False,
    diff: bool = False,
    verbosity: int = 0,
    limit: Optional[str] = None,
    label: str = "run",
    args: Iterable[str] = (),
    env_extra: Optional[Dict[str, str]] = None,
    endpoint_in_env: bool = True,
    reset_calls: bool = True,
    timeout: float = PLAYBOOK_TIMEOUT,
    combined: bool = False,
    log: bool = True,
    report_dir: Optional[Path] = None,
    cwd: Optional[Path] = None,
    env: Optional[Dict[str, str]] = None,
    wrap: Iterable[str] = (),
) -> PlaybookProcess:
    """Start ``ansible-playbook PLAYBOOK`` over ``inventories`` (``-i`` each: ``["localhost,"]`` for a controller-only play).

    ``extra_vars`` go through a 0600 JSON vars file; ``endpoint``: its admin credentials in the environment (its URL
    too unless ``endpoint_in_env`` is false) and its call counters reset (``reset_calls``) and read at the end.
    ``combined``: stderr into stdout. ``log``: set ANSIBLE_LOG_PATH. ``args``: more command-line arguments.
    ``env``: the whole environment instead of ``ansible_env``'s. TMPDIR is a new short directory unless ``env_extra`` names one.
    ``wrap``: a command that runs ansible-playbook (``unshare ...``).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    command = [*wrap, ansible_playbook(), str(playbook)]
    for inventory in inventories:
        command += ["-i", str(inventory)]
    # The quiet-key gate's watch (15 s by default) would add to every rotation of the suite; its own tests set it.
    if "rotate" in str(playbook) and "rotor_quiet_minutes" not in (extra_vars or {}):
        extra_vars = dict(extra_vars or {}, rotor_quiet_minutes=0)
    if extra_vars is not None:
        vars_file = workdir / f"{label}.vars.json"
        _write_private(vars_file, json.dumps(extra_vars))
        command += ["-e", f"@{vars_file}"]
    if limit:
        command += ["--limit", limit]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    if verbosity:
        command.append("-" + "v" * verbosity)
    command += list(args)
    environment = dict(env) if env is not None else ansible_env(endpoint, endpoint_in_env=endpoint_in_env)
    log_path = None
    if log:
        log_path = workdir / f"{label}.ansible.log"
        if log_path.exists():
            log_path.unlink()
        environment["ANSIBLE_LOG_PATH"] = str(log_path)
    environment.update(env_extra or {})
    if "TMPDIR" not in (env_extra or {}):
        environment["TMPDIR"] = str(short_tmpdir())
    if endpoint is not None and reset_calls:
        endpoint.reset_calls()
    return PlaybookProcess(command, environment, workdir, label, log_path, endpoint, timeout, combined,
                           Path(environment["TMPDIR"]), report_dir, cwd)


def run_playbook(playbook, workdir: Path, **options) -> PlaybookResult:
    """Run a playbook to the end (see spawn_playbook for the options)."""
    return spawn_playbook(playbook, workdir, **options).wait()


class RunnerJobProcess:
    """``ansible-runner run PDD -p PLAYBOOK --ident IDENT`` started in its own process group, without a terminal or
    stdin, as an AWX worker starts a job; the job's settings come from its private data dir only (``clean_env``)."""

    def __init__(self, private_data_dir: Path, playbook: str, ident: str, timeout: float = 600):
        self.private_data_dir, self.ident, self.timeout = Path(private_data_dir), ident, timeout
        self.command = [tool("ansible-runner"), "run", str(private_data_dir), "-p", playbook, "--ident", ident]
        self.began = time.monotonic()
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            self.command, env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )

    def kill(self) -> None:
        """The execution node dies: the whole job (runner, ansible-playbook, its workers) is killed at once."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self, endpoint=None) -> PlaybookResult:
        try:
            output = self.process.communicate(timeout=self.timeout)[0]
        except subprocess.TimeoutExpired:
            self.kill()
            output = self.process.communicate(timeout=10)[0]
        calls = endpoint.calls()["calls"] if endpoint is not None else {}
        return PlaybookResult.from_runner_job(self.private_data_dir, self.ident, self.command, self.process.returncode, output or "",
                                              time.monotonic() - self.began, calls)


def run_runner_job(private_data_dir: Path, playbook: str, ident: str, endpoint=None, reset_calls: bool = True,
                   timeout: float = 600) -> PlaybookResult:
    """Run an ansible-runner job to its end; the endpoint's counters are reset before it (``reset_calls``) and read after."""
    if endpoint is not None and reset_calls:
        endpoint.reset_calls()
    return RunnerJobProcess(private_data_dir, playbook, ident, timeout).wait(endpoint)
