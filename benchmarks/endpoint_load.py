"""How much signed traffic the test IAM endpoint (tests/iam_endpoint/server.py) serves: the health checks of
4 slice jobs x 50 forks, each a SigV4-signed STS GetCallerIdentity, all at once, from several client processes.

    python benchmarks/endpoint_load.py [--processes 4] [--threads 50] [--rounds 3] [--server-args '--backlog 1024']

Prints one JSON line: requests, errors by kind, latency p50/p95/max and requests per second.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import boto3  # noqa: E402  pylint: disable=wrong-import-position
from botocore.config import Config  # noqa: E402  pylint: disable=wrong-import-position

from iam_endpoint.control import IAMEndpoint  # noqa: E402  pylint: disable=wrong-import-position

# The fleet consumers' client (tests/fleet/consumer.py): no retries, 2 s to connect, 5 s to answer.
CLIENT = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1})


def worker(url, region, key_id, secret, threads, rounds, start_at, out):
    results = []
    lock = threading.Lock()

    def one():
        sts = boto3.session.Session().client("sts", endpoint_url=url, region_name=region, aws_access_key_id=key_id,
                                             aws_secret_access_key=secret, config=CLIENT)
        for _round in range(rounds):
            while time.time() < start_at:
                time.sleep(0.001)
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
    for thread in pool:
        thread.join()
    out.put(results)


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
        results = [r for _proc in procs for r in out.get()]
        for proc in procs:
            proc.join()
        ended = time.time()
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
        "seconds": round(ended - start_at, 1), "per_second": round(len(latencies) / max(ended - start_at, 0.001), 1)}))


if __name__ == "__main__":
    main()
