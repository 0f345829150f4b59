#!/usr/bin/python3
"""RSB socket-transport peers in Python, as rsb-python's rsb.transport.socket behaves, for muster's tests.

client HOST PORT: a bus client (BusConnection with isServer=False): connect, TCP_NODELAY, read the
  4-byte handshake, then a reader thread parses each frame with protobuf's ParseFromString (which
  refuses a Notification missing required fields) and hands it to the local listeners whose scope
  is the event's scope or a super-scope of it (Bus._toConnectors). Driven by JSON lines on stdin,
  one JSON answer line on stdout each.
server PORT: a bus server (BusServer): accept, send 4 zero bytes, forward every client's
  notification to every other client, re-serialized as rsb-python does. Prints "listening PORT".

The .proto files are muster's (src/faces/rsb/proto), compiled with protoc at start.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'src', 'faces', 'rsb', 'proto')
OUT = tempfile.mkdtemp(prefix='rsb-pb-')
subprocess.check_call(['protoc', '-I', PROTO_DIR, '--python_out', OUT] +
                      [os.path.join(PROTO_DIR, 'rsb', 'protocol', f) for f in ('EventId.proto', 'EventMetaData.proto', 'Notification.proto')])
sys.path.insert(0, OUT)
from rsb.protocol.Notification_pb2 import Notification  # noqa: E402

now_us = lambda: int(time.time() * 1e6)  # noqa: E731


def read_exact(sock, n):
    buf = b''
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError('short read')
        buf += chunk
    return buf


def read_frame(sock):
    size = struct.unpack('<I', read_exact(sock, 4))[0]
    return read_exact(sock, size)


def frame(body):
    return struct.pack('<I', len(body)) + body


def is_super_scope(listener, scope):
    return scope.startswith(listener)


def event_json(n):
    data = bytes(n.data)
    out = {
        'scope': n.scope.decode('latin1'), 'method': n.method.decode('latin1'), 'schema': n.wire_schema.decode('latin1'),
        'hex': data.hex(), 'sender': n.event_id.sender_id.hex(), 'seq': n.event_id.sequence_number,
        'causes': [{'sender': c.sender_id.hex(), 'seq': c.sequence_number} for c in n.causes],
        'create': n.meta_data.create_time, 'send': n.meta_data.send_time, 'has_meta': n.HasField('meta_data'),
        'user_infos': {u.key.decode('latin1'): u.value.decode('latin1') for u in n.meta_data.user_infos},
        'user_times': {u.key.decode('latin1'): u.timestamp for u in n.meta_data.user_times},
    }
    try:
        out['text'] = data.decode('utf-8')
    except UnicodeDecodeError:
        pass
    return out


def encode_data(op):
    if 'hex' in op:
        return bytes.fromhex(op['hex'])
    if 'text' in op:
        return op['text'].encode('utf-8')
    if 'pack' in op:
        return struct.pack(op['pack'], op['value'])
    return b''


class Client:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.handshake = read_exact(self.sock, 4)
        self.sender = uuid.uuid4().bytes
        self.seq = 0
        self.listeners = []
        self.events = []
        self.cond = threading.Condition()
        self.closed = None
        self.servers = {}
        self.send_lock = threading.Lock()
        threading.Thread(target=self.receive, daemon=True).start()

    def receive(self):
        try:
            while True:
                body = read_frame(self.sock)
                n = Notification()
                n.ParseFromString(body)
                scope = n.scope.decode('latin1')
                if n.method == b'REQUEST' and scope in self.servers:
                    self.answer(n, self.servers[scope])
                with self.cond:
                    if any(is_super_scope(l, scope) for l in self.listeners):
                        self.events.append(event_json(n))
                    self.cond.notify_all()
        except EOFError:
            how = 'eof'
        except OSError as e:
            how = 'reset: %s' % e
        except Exception as e:  # a frame protobuf refused: rsb-python logs and drops the connection
            how = 'error: %s' % e
        with self.cond:
            self.closed = how
            self.cond.notify_all()

    def notification(self, scope, schema, data, method=b'', causes=(), user_infos=None, user_times=None):
        self.seq += 1
        n = Notification()
        n.event_id.sender_id = self.sender
        n.event_id.sequence_number = self.seq
        n.scope = scope.encode('latin1')
        n.wire_schema = schema.encode('latin1')
        n.data = data
        if method:
            n.method = method
        for c in causes:
            cause = n.causes.add()
            cause.sender_id = bytes.fromhex(c['sender'])
            cause.sequence_number = c['seq']
        n.meta_data.create_time = now_us()
        n.meta_data.send_time = now_us()
        for k, v in (user_infos or {}).items():
            u = n.meta_data.user_infos.add()
            u.key, u.value = k.encode(), v.encode()
        for k, v in (user_times or {}).items():
            u = n.meta_data.user_times.add()
            u.key, u.timestamp = k.encode(), v
        return n

    def send(self, n):
        with self.send_lock:
            self.sock.sendall(frame(n.SerializeToString()))

    def answer(self, request, kind):
        """A LocalServer method: REPLY on the method's scope, the request's id in causes."""
        cause = {'sender': request.event_id.sender_id.hex(), 'seq': request.event_id.sequence_number}
        scope = request.scope.decode('latin1')
        if kind == 'error':
            reply = self.notification(scope, 'utf-8-string', b'no such thing', b'REPLY', [cause], {'rsb:error?': '1'})
        elif kind == 'upper':
            reply = self.notification(scope, 'utf-8-string', bytes(request.data).decode().upper().encode(), b'REPLY', [cause])
        elif kind == 'silent':
            return
        else:
            reply = self.notification(scope, request.wire_schema.decode(), bytes(request.data), b'REPLY', [cause])
        self.send(reply)

    def wait(self, predicate, timeout_ms):
        deadline = time.time() + timeout_ms / 1000
        with self.cond:
            while not predicate() and time.time() < deadline:
                self.cond.wait(max(0.001, deadline - time.time()))
            return predicate()

    def op(self, op):
        kind = op['op']
        if kind == 'hello':
            return {'handshake': self.handshake.hex(), 'sender': self.sender.hex(), 'port': self.sock.getsockname()[1]}
        if kind == 'listen':
            with self.cond:
                self.listeners.append(op['scope'])
            return {'ok': True}
        if kind == 'send':
            n = self.notification(op['scope'], op.get('schema', 'bytes'), encode_data(op), op.get('method', '').encode(),
                                  op.get('causes', ()), op.get('user_infos'), op.get('user_times'))
            self.send(n)
            return {'sender': self.sender.hex(), 'seq': n.event_id.sequence_number}
        if kind == 'burst':
            for i in range(op['count']):
                self.send(self.notification(op['scope'], 'utf-8-string', str(i).encode()))
            return {'sent': op['count']}
        if kind == 'events':
            self.wait(lambda: len(self.events) >= op.get('count', 1), op.get('timeout_ms', 3000))
            with self.cond:
                out, self.events = self.events, []
            return {'events': out}
        if kind == 'serve':
            self.servers[op['scope']] = op.get('reply', 'echo')
            return {'ok': True}
        if kind == 'call':
            with self.cond:
                self.listeners.append(op['scope'])
            n = self.notification(op['scope'], op.get('schema', 'utf-8-string'), encode_data(op), b'REQUEST')
            self.send(n)
            mine = lambda e: e['method'] == 'REPLY' and {'sender': self.sender.hex(), 'seq': n.event_id.sequence_number} in e['causes']  # noqa: E731
            self.wait(lambda: any(mine(e) for e in self.events), op.get('timeout_ms', 3000))
            with self.cond:
                replies = [e for e in self.events if mine(e)]
                self.events = [e for e in self.events if not mine(e)]
            return {'reply': replies[0] if replies else None}
        if kind == 'raw':
            try:
                self.sock.sendall(bytes.fromhex(op['hex']))
                return {'ok': True}
            except OSError as e:
                return {'ok': False, 'error': str(e)}
        if kind == 'closed':
            self.wait(lambda: self.closed is not None, op.get('timeout_ms', 3000))
            return {'closed': self.closed}
        if kind == 'close':
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.close()
            return {'ok': True}
        if kind == 'reset':
            # A crash: the process ends with SO_LINGER 0, so the kernel resets the connection.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            print(json.dumps({'ok': True}), flush=True)
            os._exit(0)
        return {'error': 'unknown op %s' % kind}


def serve(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', port))
    srv.listen(16)
    print('listening %d' % srv.getsockname()[1], flush=True)
    clients = []
    lock = threading.Lock()

    def handle(conn):
        try:
            while True:
                n = Notification()
                n.ParseFromString(read_frame(conn))
                out = frame(n.SerializeToString())
                with lock:
                    others = [c for c in clients if c is not conn]
                for c in others:
                    try:
                        c.sendall(out)
                    except OSError:
                        pass
        except Exception:
            pass
        with lock:
            if conn in clients:
                clients.remove(conn)
        conn.close()

    while True:
        conn, _ = srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(b'\0\0\0\0')
        with lock:
            clients.append(conn)
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def codec():
    """Protobuf's own reading and writing of Notifications, for the byte-by-byte codec tests."""
    for line in sys.stdin:
        op = json.loads(line)
        try:
            if op['op'] == 'decode':
                n = Notification()
                n.ParseFromString(bytes.fromhex(op['hex']))
                out = event_json(n)
            else:
                c = Client.__new__(Client)
                c.sender, c.seq = bytes.fromhex(op['sender']), op['seq'] - 1
                n = c.notification(op['scope'], op['schema'], bytes.fromhex(op['data']), op.get('method', '').encode(),
                                   op.get('causes', ()), op.get('user_infos'), op.get('user_times'))
                n.meta_data.create_time, n.meta_data.send_time = op['create'], op['send']
                out = {'hex': n.SerializeToString().hex()}
        except Exception as e:
            out = {'error': '%s: %s' % (type(e).__name__, e)}
        print(json.dumps(out), flush=True)


def main():
    if sys.argv[1] == 'codec':
        codec()
        return
    if sys.argv[1] == 'server':
        serve(int(sys.argv[2]))
        return
    client = Client(sys.argv[2], int(sys.argv[3]))
    print(json.dumps({'ready': True}), flush=True)
    for line in sys.stdin:
        try:
            out = client.op(json.loads(line))
        except Exception as e:  # the answer says what went wrong; the test decides
            out = {'error': '%s: %s' % (type(e).__name__, e)}
        print(json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
