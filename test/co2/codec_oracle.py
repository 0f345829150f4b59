"""The codec test's oracle: what Python's xmlrpc.client writes for each case, and what it reads
from what muster wrote. Reads one JSON object on stdin, writes one on stdout."""
import json
import os
import sys
import xmlrpc.client

sys.path.insert(0, os.path.dirname(__file__))
from satellite import from_json, to_json  # noqa: E402

req = json.load(sys.stdin)
out = {"dumps": [], "loads": [], "faults": []}
for case in req["values"]:
    out["dumps"].append(xmlrpc.client.dumps((from_json(case),), "test", allow_none=True))
for case in req["values"]:
    out["dumps"].append(xmlrpc.client.dumps((from_json(case),), methodresponse=True, allow_none=True))
for code, text in req["faults"]:
    out["faults"].append(xmlrpc.client.dumps(xmlrpc.client.Fault(code, text)))
for body in req["ours"]:
    try:
        params, method = xmlrpc.client.loads(body.encode("utf-8"), use_builtin_types=False)
        out["loads"].append({"method": method, "params": [to_json(p) for p in params]})
    except xmlrpc.client.Fault as f:
        out["loads"].append({"fault": [f.faultCode, f.faultString]})
json.dump(out, sys.stdout)
