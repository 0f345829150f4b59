"""Reference ICCP frames built with the protobuf definitions (protoc's Python modules of
src/faces/iccp/proto and Debian's python3-protobuf), printed as JSON {name: [hex frame, ...]}.
test/iccp-codec.test.ts compares muster's codec with them byte by byte."""
import json
import struct
import sys
import uuid

sys.path.insert(0, sys.argv[1])
import config_pb2  # noqa: E402
import peer_pb2  # noqa: E402
from google.protobuf import any_pb2, struct_pb2  # noqa: E402

UID = uuid.UUID('6f1e2d3c-4b5a-11ee-8c90-0242ac120002')


def t(n):
    return struct.pack('!H', n)


def ser(m):
    return m.SerializeToString(deterministic=True)


def peer(uid=UID.bytes, pid=4242, host='node-7'):
    p = peer_pb2.PeerIdentification(uid=uid, pid=pid, host=host)
    return ser(p)


def endpoints(d, kindless_empty=False):
    s = struct_pb2.Struct()
    for k, v in d.items():
        if not kindless_empty:
            s.fields[k].list_value.SetInParent()
        s.fields[k].list_value.extend(v)
    return ser(s)


def config():
    c = config_pb2.ConfigProto()
    c.options['port'].as_sint64 = 5432
    c.options['ratio'].as_double = 0.25
    c.options['name'].as_string = 'log'
    c.options['enabled'].as_bool = True
    c.options['blob'].as_bytes = b'\x00\x01\xff'
    c.options['neg'].as_sint64 = -7
    c.options['whole'].as_double = 2.0
    c.options['f'].as_float = 1.5
    c.options['s32'].as_sint32 = -3
    c.options['u32'].as_uint32 = 4000000000
    c.options['u64'].as_uint64 = 18446744073709551615
    c.options['big'].as_sint64 = -9223372036854775808
    a = any_pb2.Any(type_url='type.googleapis.com/x.Y', value=b'\x08\x01')
    c.options['msg'].as_msg.CopyFrom(a)
    c.configs['db'].options['host'].as_string = 'localhost'
    c.configs['db'].configs['pool'].options['size'].as_sint64 = 8
    return ser(c)


out = {
    'ready': [t(1), peer(), endpoints({'data': ['tcp://127.0.0.1:6001', 'ipc:///tmp/x'], 'log': []})],
    'ready-kindless-empty': [t(1), peer(), endpoints({'log': []}, kindless_empty=True)],
    'ready-no-endpoints': [t(1), peer(), b''],
    'request': [t(2), b'CONF', config()],
    'request-two-frame': [t(2), config()],
    'request-empty': [t(2), b'CONF', b''],
    'request-int': [t(2), b'CONF', ser(config_pb2.ConfigProto(options={'port': config_pb2.Value(as_sint64=5432)}))],
    'ok': [t(3)],
    'error': [t(4), 'Traceback (most recent call last):\n  File "x.py", line 1\nTypeError: bad ✓'.encode()],
    'stop': [t(5)],
    'finished': [t(6), b'OK'],
    'finished-details': [t(6), b'ERROR', 'first ✓'.encode(), b'second'],
    'peer-wrong-uid': [t(1), peer(uid=b'short'), b''],
}
print(json.dumps({k: [f.hex() for f in v] for k, v in out.items()}))
