"""A CO2 satellite as real ones are written: Python's SimpleXMLRPCServer serving notify() and
ping(), and xmlrpc.client.ServerProxy calling the relay. Driven by the tests one JSON line at a
time on stdin (ops below); every answer is one JSON line on stdout.

Values cross the JSON boundary typed: {"int": 1}, {"bool": true}, {"double": 1.0},
{"dateTime": "20030501T12:00:00"}, {"base64": "AAE="}, {"struct": {...}}, {"nil": null};
strings and lists are themselves.
"""
import base64
import http.client
import json
import socket
import sys
import threading
import time
import xmlrpc.client
from xmlrpc.server import SimpleXMLRPCServer

socket.setdefaulttimeout(15)


def to_json(v):
    if isinstance(v, bool):
        return {"bool": v}
    if isinstance(v, int):
        return {"int": v}
    if isinstance(v, float):
        return {"double": v}
    if isinstance(v, str):
        return v
    if v is None:
        return {"nil": None}
    if isinstance(v, xmlrpc.client.DateTime):
        return {"dateTime": v.value}
    if isinstance(v, xmlrpc.client.Binary):
        return {"base64": base64.b64encode(v.data).decode("ascii")}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {"struct": {k: to_json(x) for k, x in v.items()}}
    raise TypeError(repr(v))


def from_json(v):
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return [from_json(x) for x in v]
    (tag, x), = v.items()
    return {
        "bool": lambda: bool(x), "int": lambda: int(x), "double": lambda: float(x), "nil": lambda: None,
        "dateTime": lambda: xmlrpc.client.DateTime(x), "base64": lambda: xmlrpc.client.Binary(base64.b64decode(x)),
        "struct": lambda: {k: from_json(y) for k, y in x.items()},
    }[tag]()


class SourceTransport(xmlrpc.client.Transport):
    """Calls from another loopback address (127.0.0.2, ...), to look like another machine."""

    def __init__(self, source):
        super().__init__()
        self.source = source

    def make_connection(self, host):
        chost, self._extra_headers, _ = self.get_host_info(host)
        return http.client.HTTPConnection(chost, source_address=(self.source, 0))


class Satellite:
    def __init__(self, relay_url):
        self.relay_url = relay_url
        self.relay = xmlrpc.client.ServerProxy(relay_url, allow_none=True)
        self.notifies = []
        self.pings = 0
        self.mode = "ok"  # ok | fail | hang
        self.notify_pass = None
        self.lock = threading.Lock()
        self.server = SimpleXMLRPCServer(("127.0.0.1", 0), allow_none=True, logRequests=False)
        self.server.register_function(self.notify, "notify")
        self.server.register_function(self.ping, "ping")
        self.server.register_function(lambda x: x, "echo")
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def notify(self, param_dict):
        if self.mode == "hang":
            time.sleep(30)
        with self.lock:
            self.notifies.append(param_dict)
        if self.mode == "fail":
            raise Exception("this satellite refuses notify")
        if self.notify_pass is not None and param_dict.get("notify_pass") != self.notify_pass:
            raise Exception("wrong notify_pass")
        return "OK"

    def ping(self):
        with self.lock:
            self.pings += 1
        if self.mode == "hang":
            time.sleep(30)
        return "OK"

    def op(self, o):
        kind = o["op"]
        if kind == "port":
            return {"port": self.port}
        if kind == "call":
            try:
                relay = self.relay
                if "source" in o:
                    relay = xmlrpc.client.ServerProxy(self.relay_url, allow_none=True, transport=SourceTransport(o["source"]))
                result = getattr(relay, o["method"])(*[from_json(p) for p in o.get("params", [])])
                return {"result": to_json(result)}
            except xmlrpc.client.Fault as f:
                return {"fault": {"code": f.faultCode, "string": f.faultString}}
            except xmlrpc.client.ProtocolError as e:
                return {"protocol_error": e.errcode}
        if kind == "notifies":
            with self.lock:
                out, self.notifies = self.notifies, []
            return {"notifies": [to_json(n) for n in out]}
        if kind == "pings":
            with self.lock:
                return {"pings": self.pings}
        if kind == "mode":
            self.mode = o["mode"]
            if "notify_pass" in o:
                self.notify_pass = o["notify_pass"]
            return {"ok": True}
        raise ValueError(kind)


def main():
    sat = Satellite(sys.argv[1])
    print(json.dumps({"port": sat.port}), flush=True)
    for line in sys.stdin:
        try:
            out = sat.op(json.loads(line))
        except Exception as e:  # the test sees the error instead of a hang
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
