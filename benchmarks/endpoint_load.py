"""How much signed traffic the test IAM endpoint (tests/iam_endpoint/server.py) serves: the health checks of
4 slice jobs x 50 forks, each a SigV4-signed STS GetCallerIdentity, all at once, from several client processes.

    python benchmarks/endpoint_load.py [--processes 4] [--threads 50] [--rounds 3] [--server-args '--backlog 1024']

Prints one JSON line: requests, errors by kind, latency p50/p95/max, requests per second, and the CPU seconds the
server and the client processes spent in the burst (server_cpu_ms_per_request is what one request costs the endpoint:
1000 / it is how many one core could serve a second; the clients' botocore costs several times more).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import boto3  # noqa: E402  pylint: disable=wrong-import-position
from botocore.config import Config  # noqa: E402  pylint: disable=wrong-import-position

from iam_endpoint.control import IAMEndpoint  # noqa: E402  pylint: disable=wrong-import-position

# The fleet consumers' client (tests/fleet/consumer.py): one try (legacy "max_attempts" would count retries), 2 s to
# connect, 5 s to answer.
CLIENT = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 1})


def worker(url, region, key_id, secret, threads, rounds, start_at, out):
    results = []
    lock = threading.Lock()

    def one():
        sts = boto3.session.Session().client("sts", endpoint_url=url, region_name=region, aws_access_key_id=key_id,
                                             aws_secret_access_key=secret, config=CLIENT)
        for _round in range(rounds):
            time.sleep(max(0.0, start_at - time.time()))  # one sleep: 200 threads polling would load the machine
            began = time.monotonic()
            try:
                sts.get_caller_identity()
                outcome = "ok"
            except Exception as exc:  # pylint: disable=broad-except
                outcome = type(exc).__name__
            with lock:
                results.append((outcome, time.monotonic() - began))

    pool = [threading.Thread(target=one) for _thread in range(threads)]
    for thread in pool:
        thread.start()
    time.sleep(max(0.0, start_at - time.time()))
    usage = resource.getrusage(resource.RUSAGE_SELF)  # the clients are made: count the burst only
    before = usage.ru_utime + usage.ru_stime
    for thread in pool:
        thread.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put((results, usage.ru_utime + usage.ru_stime - before))


def process_cpu_seconds(pid):
    """User + system CPU seconds of process ``pid`` so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server-args", default="")
    args = parser.parse_args(argv)
    if args.server_args:
        os.environ["ROTOR_ENDPOINT_ARGS"] = args.server_args  # read by server.py (see --help)
    endpoint = IAMEndpoint().start()
    try:
        iam = endpoint.boto3_client("iam")
        iam.create_user(UserName="load")
        key = iam.create_access_key(UserName="load")["AccessKey"]
        endpoint.set_auth(True)  # every request signed and checked, as the health checks are
        out = multiprocessing.Queue()
        start_at = time.time() + 3 + args.processes  # every client ready: one burst
        procs = [multiprocessing.Process(target=worker, args=(endpoint.endpoint_url, endpoint.region, key["AccessKeyId"], key["SecretAccessKey"],
                                                              args.threads, args.rounds, start_at, out)) for _proc in range(args.processes)]
        for proc in procs:
            proc.start()
        time.sleep(max(0.0, start_at - time.time()))
        server_cpu_before = process_cpu_seconds(endpoint._process.pid)  # pylint: disable=protected-access
        answers = [out.get() for _proc in procs]
        ended = time.time()
        server_cpu = process_cpu_seconds(endpoint._process.pid) - server_cpu_before  # pylint: disable=protected-access
        for proc in procs:
            proc.join()
        results = [r for proc_results, _cpu in answers for r in proc_results]
        client_cpu = sum(cpu for _results, cpu in answers)
    finally:
        endpoint.stop()
    latencies = sorted(seconds for outcome, seconds in results if outcome == "ok")
    errors = {}
    for outcome, _seconds in results:
        if outcome != "ok":
            errors[outcome] = errors.get(outcome, 0) + 1
    print(json.dumps({
        "server_args": args.server_args, "concurrency": args.processes * args.threads, "requests": len(results), "ok": len(latencies),
        "errors": errors, "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p95_s": round(latencies[int(len(latencies) * 0.95) - 1], 3) if latencies else None, "max_s": round(max(latencies), 3) if latencies else None,
        "seconds": round(ended - start_at, 1),
        "server_cpu_s": round(server_cpu, 2), "server_cpu_ms_per_request": round(1000 * server_cpu / max(len(results), 1), 2),
        "client_cpu_s": round(client_cpu, 2), "load": os.getloadavg()[0], "per_second": round(len(latencies) / max(ended - start_at, 0.001), 1)}))


if __name__ == "__main__":
    main()
