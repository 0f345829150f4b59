"""A Saturnin component's control side, as Saturnin's ICCPComponent speaks it: a ZeroMQ PAIR that
CONNECTS to the controller's endpoint (queue limits of 5, immediate mode), checks that it can send
at once (or gives up: "Broken component control channel"), sends READY, then answers REQUEST/CONF
with OK or ERROR and STOP with FINISHED. Prints one JSON line per event on stdout for the test.

usage: component.py PROTO_DIR [--endpoint E] [--mode M] [--endpoints JSON] [--after MS] [--details D...]
The endpoint defaults to $MUSTER_ICCP_ENDPOINT (as `muster launch` passes it).
Modes:
  normal       OK to every CONF (ERROR with a traceback when the config has option "fail"),
               FINISHED OK to STOP (FINISHED ERROR with --stop-error, ERROR with --stop-raises)
  stock        stock Saturnin's broken configure: ERROR (a traceback), then FINISHED ERROR, exit
  unprompted   READY, then FINISHED --outcome after --after ms, exit
  crash        READY, then ERROR (a traceback) after --after ms, exit
  start-error  ERROR instead of READY, exit
  silent       connect and send nothing
  hang         READY, then never answer anything
"""
import argparse
import json
import os
import socket
import struct
import sys
import time
import uuid

sys.path.insert(0, sys.argv[1])
import config_pb2  # noqa: E402
import peer_pb2  # noqa: E402
import zmq  # noqa: E402
from google.protobuf import struct_pb2  # noqa: E402

READY, REQUEST, OK, ERROR, STOP, FINISHED = 1, 2, 3, 4, 5, 6

ap = argparse.ArgumentParser()
ap.add_argument('protos')
ap.add_argument('--endpoint', default=os.environ.get('MUSTER_ICCP_ENDPOINT'))
ap.add_argument('--mode', default='normal')
ap.add_argument('--endpoints', default='{}')
ap.add_argument('--after', type=int, default=200)
ap.add_argument('--outcome', default='OK')
ap.add_argument('--details', nargs='*', default=[])
ap.add_argument('--stop-error', action='store_true')
ap.add_argument('--stop-raises', action='store_true')
ap.add_argument('--lifetime', type=int, default=60000, help='exits after this many ms whatever happens')
args = ap.parse_args()


def say(**event):
    print(json.dumps(event), flush=True)


def t(n):
    return struct.pack('!H', n)


TRACEBACK = ('Traceback (most recent call last):\n  File "/usr/lib/python3/dist-packages/saturnin/component/micro.py", '
             'line 257, in handle_config_request\n    self.on_config_request(config)\n')


def kind_of(v):
    k = v.WhichOneof('kind')
    val = getattr(v, k)
    if isinstance(val, bytes):
        val = val.hex()
    elif k == 'as_msg':
        val = val.type_url
    return [k, val]


def dump(cfg):
    out = {k: kind_of(v) for k, v in cfg.options.items()}
    out.update({k: dump(c) for k, c in cfg.configs.items()})
    return out


ctx = zmq.Context.instance()
pipe = ctx.socket(zmq.PAIR)
pipe.setsockopt(zmq.SNDHWM, 5)
pipe.setsockopt(zmq.RCVHWM, 5)
pipe.setsockopt(zmq.IMMEDIATE, 1)
pipe.setsockopt(zmq.LINGER, 2000)
pipe.connect(args.endpoint)
# A real component gives up when the controller's socket is not there to take its first message.
if not pipe.poll(2000, zmq.POLLOUT):
    say(event='gave-up', reason='Broken component control channel')
    sys.exit(3)
uid = uuid.uuid1()
say(event='connected', uid=str(uid), pid=os.getpid())

if args.mode == 'start-error':
    pipe.send_multipart([t(ERROR), (TRACEBACK + 'RuntimeError: cannot open the database').encode()])
    say(event='sent', type='ERROR')
    time.sleep(0.3)
    sys.exit(1)
if args.mode == 'silent':
    time.sleep(args.lifetime / 1000)
    sys.exit(0)

ident = peer_pb2.PeerIdentification(uid=uid.bytes, pid=os.getpid(), host=socket.gethostname())
eps = struct_pb2.Struct()
for name, addrs in json.loads(args.endpoints).items():
    eps.fields[name].list_value.SetInParent()
    eps.fields[name].list_value.extend(addrs)
pipe.send_multipart([t(READY), ident.SerializeToString(), eps.SerializeToString() if eps.fields else b''])
say(event='ready')

if args.mode in ('unprompted', 'crash'):
    time.sleep(args.after / 1000)
    if args.mode == 'unprompted':
        pipe.send_multipart([t(FINISHED), args.outcome.encode()] + [d.encode() for d in args.details])
    else:
        pipe.send_multipart([t(ERROR), (TRACEBACK + 'ZeroDivisionError: division by zero').encode()])
    say(event='sent', type='FINISHED' if args.mode == 'unprompted' else 'ERROR')
    time.sleep(0.5)
    sys.exit(0)

deadline = time.monotonic() + args.lifetime / 1000
while time.monotonic() < deadline:
    if not pipe.poll(100, zmq.POLLIN):
        continue
    frames = pipe.recv_multipart()
    mtype = struct.unpack('!H', frames[0])[0]
    if args.mode == 'hang':
        say(event='ignored', type=mtype)
        continue
    if mtype == REQUEST:
        code = frames[1] if len(frames) == 3 else None
        cfg = config_pb2.ConfigProto()
        cfg.ParseFromString(frames[-1])
        say(event='config', code=code.decode() if code else None, frames=len(frames), config=dump(cfg))
        if args.mode == 'stock':
            pipe.send_multipart([t(ERROR), (TRACEBACK + "TypeError: 'NoneType' object is not subscriptable").encode()])
            pipe.send_multipart([t(FINISHED), b'ERROR', (TRACEBACK + "TypeError: 'NoneType' object is not subscriptable").encode()])
            say(event='sent', type='ERROR+FINISHED')
            time.sleep(0.5)
            sys.exit(1)
        port = cfg.options.get('port')
        if 'fail' in cfg.options:
            pipe.send_multipart([t(ERROR), (TRACEBACK + 'ValueError: ' + cfg.options['fail'].as_string).encode()])
        elif port is not None and port.WhichOneof('kind') not in ('as_sint64', 'as_sint32', 'as_uint32', 'as_uint64'):
            # Saturnin's IntOption refuses anything but an integer.
            pipe.send_multipart([t(ERROR), (TRACEBACK + 'TypeError: Option "port" value must be int').encode()])
        else:
            pipe.send_multipart([t(OK)])
    elif mtype == STOP:
        say(event='stop')
        if args.stop_raises:
            pipe.send_multipart([t(ERROR), (TRACEBACK + 'RuntimeError: cleanup failed').encode()])
        elif args.stop_error:
            pipe.send_multipart([t(FINISHED), b'ERROR', b'flush failed', (TRACEBACK + 'OSError: disk full').encode()])
        else:
            pipe.send_multipart([t(FINISHED), b'OK'] + [d.encode() for d in args.details])
        time.sleep(0.3)
        sys.exit(0)
    else:
        say(event='unexpected', type=mtype)
sys.exit(0)
