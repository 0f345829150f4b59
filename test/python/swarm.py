#!/usr/bin/python3
"""Many plantimager devices in one process: each registers, then checks in ROUNDS times.

Usage: swarm.py REGISTRY_URL PREFIX COUNT ROUNDS ALIVE_TIMEOUT
Prints one JSON object: {"devices": [[name, uuid], ...], "alive": {"ok": n, "unknown": n, "unreachable": n}}.
Devices are registered by a pool of threads so that requests from one process overlap, as a
fleet of devices would.
"""
import json
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

import zmq

from plantimager_client import register_device, send_alive_check


def main():
    url, prefix, count, rounds, alive_timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    signal.alarm(60)
    context = zmq.Context()

    def device(i):
        name, uuid = register_device(context, "camera", "tcp://%s-%d:5000" % (prefix, i), "cam", url)
        states = [send_alive_check(context, uuid, url, alive_timeout) for _ in range(rounds)] if uuid else []
        return name, uuid, states

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(device, range(count)))
    alive = {"ok": 0, "unknown": 0, "unreachable": 0}
    for _, _, states in results:
        for s in states:
            alive[s] += 1
    print(json.dumps({"devices": [[n, u] for n, u, _ in results], "alive": alive}))
    context.term()


if __name__ == "__main__":
    main()
