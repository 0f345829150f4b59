#!/usr/bin/python3
"""A plantimager device as the real one talks to its registry, driven line by line from stdin.

The three client functions below follow plantimager.commons.deviceregistry (register_device,
unregister_device, send_alive_check): a fresh REQ socket per call, send_json / recv_json, no
timeout on register, 5 s poll on alive checks and unregister. `raw` sends arbitrary frames.

Each stdin line is a JSON object {"op": ..., ...}; each answer is one JSON line on stdout.
Usage: plantimager_client.py REGISTRY_URL   (tcp://127.0.0.1:5555, or tcp://SRC:0;HOST:PORT)
"""
import json
import signal
import sys

import zmq

REGISTER, REGISTER_ACK, UNREGISTER, CHECK_ALIVE, ACK = "REGISTER", "REGISTER_ACK", "UNREGISTER", "CHECK_ALIVE", "ACK"
ALIVE_TIMEOUT = 20


def register_device(context, device_type, addr, name, registry_url, overwrite=False):
    with context.socket(zmq.REQ) as socket:
        with socket.connect(registry_url):
            socket.send_json({
                "event": REGISTER,
                "payload": {"device_type": device_type, "addr": addr, "name": name, "overwrite": overwrite},
            })
            reply = socket.recv_json()
            event_type = reply["event"]
            payload = reply["payload"]
            if event_type == REGISTER_ACK:
                return payload["name"], payload["uuid"]
    return "", ""


def unregister_device(context, uuid, registry_addr):
    with context.socket(zmq.REQ) as socket:
        with socket.connect(registry_addr):
            socket.send_json({"event": UNREGISTER, "payload": {"uuid": uuid}})
            if socket.poll(5000, flags=zmq.POLLIN) == 0:
                return False
            reply = socket.recv_json()
            return reply["event"] == ACK


def send_alive_check(context, uuid, registry_url, alive_timeout=ALIVE_TIMEOUT):
    with context.socket(zmq.REQ) as socket:
        socket.connect(registry_url)
        socket.send_json({"event": CHECK_ALIVE, "payload": {"uuid": uuid, "alive_timeout": alive_timeout}})
        if socket.poll(5000, flags=zmq.POLLIN) == 0:
            return "unreachable"
        reply = socket.recv_json()
        if reply["event"] == ACK and reply.get("payload", {}).get("success", False):
            return "ok"
        return "unknown"


def raw(context, url, frames, timeout_ms):
    """Sends frames as given (one or several) and returns the reply text, or None after timeout_ms."""
    with context.socket(zmq.REQ) as socket:
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(url)
        socket.send_multipart(frames)
        if socket.poll(timeout_ms, flags=zmq.POLLIN) == 0:
            return None
        return [f.decode("utf-8", "replace") for f in socket.recv_multipart()]


def frames_of(op):
    if "hex" in op:
        return [bytes.fromhex(h) for h in op["hex"]]
    if "text" in op:
        return [t.encode("utf-8") for t in op["text"]]
    return [json.dumps(op["json"]).encode("utf-8")]


def main():
    url = sys.argv[1]
    context = zmq.Context()
    for line in sys.stdin:
        op = json.loads(line)
        # A safety net: a register that is never answered would block this process for good.
        signal.alarm(int(op.get("alarm", 20)))
        kind = op["op"]
        if kind == "register":
            name, uuid = register_device(context, op["device_type"], op["addr"], op["name"], url, op.get("overwrite", False))
            out = {"name": name, "uuid": uuid}
        elif kind == "alive":
            out = {"state": send_alive_check(context, op["uuid"], url, op.get("alive_timeout", ALIVE_TIMEOUT))}
        elif kind == "unregister":
            out = {"ok": unregister_device(context, op["uuid"], url)}
        elif kind == "raw":
            out = {"reply": raw(context, url, frames_of(op), op.get("timeout_ms", 5000))}
        else:
            out = {"error": "unknown op " + kind}
        signal.alarm(0)
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    context.term()


if __name__ == "__main__":
    main()
