/**
 * A reference plantimager registry for the plantimager bench, run beside the face in the same
 * run: the original's `DeviceRegistry` thread as its published source shows it (the constructor,
 * `run`'s loop and its replies, `../shared/seeds/plantimager-device-registry.txt`), with the
 * private methods the docs leave out written from the behaviour `../shared/PROTOCOLS.md` records:
 * a registration first evicts any device at the same address (a scan of the devices), then takes
 * the first free `name`, `name-1`, ...; expired devices are pruned on every turn of the loop (a
 * scan of the expiries). It is a reconstruction, not the original: issue 16's own figures for the
 * original are kept beside it in the report.
 *
 * Run with Debian's /usr/bin/python3 (python3-zmq) on core 0, as the hub; `preload` devices are
 * registered before it serves, with an hour to live (as the bench preloads the hub's).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/net.js';

const REGISTRY = String.raw`
import sys, time, uuid
from threading import RLock, Thread
import zmq

ALIVE_TIMEOUT = 20

class EventType:
    REGISTER = "REGISTER"
    REGISTER_ACK = "REGISTER_ACK"
    UNREGISTER = "UNREGISTER"
    CHECK_ALIVE = "CHECK_ALIVE"
    ACK = "ACK"
    UNSUPPORTED = "UNSUPPORTED"

class DeviceRegistry(Thread):
    def __init__(self, context, addr="*", port="5555"):
        super().__init__()
        self.addr = addr
        self.port = port
        self.context = context
        self._lock = RLock()
        self._new_device_callbacks = []
        self._device_removed_callbacks = []
        self._callback_events_to_process = {"added": [], "removed": []}
        self.devices = {}  # name --> (device_type, addr)
        self.device_names = {}  # uuid --> name
        self.device_health_timeout = {}  # uuid --> expiration time
        self._stop_flag = False

    # Not in the published docs: written from PROTOCOLS.md's account of the original.
    def _remove_device_by_uuid(self, uuid_):
        with self._lock:
            name = self.device_names.pop(uuid_)
            device_type, addr = self.devices.pop(name)
            self.device_health_timeout.pop(uuid_, None)
            self._callback_events_to_process["removed"].append((device_type, addr, name))
            return True

    def _remove_device_by_name(self, name):
        for uuid_, n in list(self.device_names.items()):
            if n == name:
                return self._remove_device_by_uuid(uuid_)
        return False

    def _handle_register(self, device_type, addr, proposed_name, overwrite=False):
        with self._lock:
            for name, (_, a) in list(self.devices.items()):
                if a == addr:
                    self._remove_device_by_name(name)
            if overwrite and proposed_name in self.devices:
                self._remove_device_by_name(proposed_name)
            if not proposed_name:
                proposed_name = f"{device_type}-0"
            name, i = proposed_name, 1
            while name in self.devices:
                name, i = f"{proposed_name}-{i}", i + 1
            uuid_ = uuid.uuid4()
            self.devices[name] = (device_type, addr)
            self.device_names[str(uuid_)] = name
            self.device_health_timeout[str(uuid_)] = int(time.time()) + ALIVE_TIMEOUT
            self._callback_events_to_process["added"].append((device_type, addr, name))
            return name, uuid_

    def _prune_unhealthy_devices(self):
        now = int(time.time())
        with self._lock:
            for uuid_, expiry in list(self.device_health_timeout.items()):
                if expiry < now:
                    self._remove_device_by_uuid(uuid_)

    # From the published source (run's loop; the logging calls left out).
    def run(self):
        with self.context.socket(zmq.REP) as socket:
            socket.bind(f"tcp://{self.addr}:{self.port}")
            while not self._stop_flag:
                self._prune_unhealthy_devices()
                for device_type, addr, name in self._callback_events_to_process["removed"]:
                    for callback in self._device_removed_callbacks:
                        callback(device_type, addr, name)
                self._callback_events_to_process["removed"].clear()
                for device_type, addr, name in self._callback_events_to_process["added"]:
                    for callback in self._new_device_callbacks:
                        callback(device_type, addr, name)
                self._callback_events_to_process["added"].clear()
                if socket.poll(100) == 0:
                    continue
                message = socket.recv_json()
                event_type = message["event"]
                payload = message["payload"]
                match event_type:
                    case EventType.REGISTER:
                        device_type = payload["device_type"]
                        addr = payload["addr"]
                        proposed_name = payload["name"]
                        overwrite = payload["overwrite"] if "overwrite" in payload else False
                        name, uuid_ = self._handle_register(device_type, addr, proposed_name, overwrite=overwrite)
                        socket.send_json({"event": EventType.REGISTER_ACK, "payload": {"name": name, "uuid": str(uuid_)}})
                    case EventType.UNREGISTER:
                        uuid_ = payload["uuid"]
                        result = self._remove_device_by_uuid(uuid_) if uuid_ in self.device_names else False
                        socket.send_json({"event": EventType.ACK, "payload": {"req_event": EventType.UNREGISTER, "success": result}})
                    case EventType.CHECK_ALIVE:
                        uuid_ = payload["uuid"]
                        timeout = payload.get("alive_timeout", ALIVE_TIMEOUT)
                        if uuid_ in self.device_health_timeout:
                            self.device_health_timeout[uuid_] = int(time.time()) + timeout
                            socket.send_json({"event": EventType.ACK, "payload": {"req_event": EventType.CHECK_ALIVE, "success": True}})
                        else:
                            socket.send_json({"event": EventType.ACK, "payload": {"req_event": EventType.CHECK_ALIVE, "success": False}})
                    case _:
                        socket.send_json({"event": EventType.UNSUPPORTED, "payload": {"req_event": event_type}})

port, preload = sys.argv[1], int(sys.argv[2])
registry = DeviceRegistry(zmq.Context(), "127.0.0.1", port)
for i in range(preload):  # straight into its tables: through _handle_register each would scan the others
    uuid_ = str(uuid.uuid4())
    registry.devices[f"pre-{i}"] = ("bench", f"tcp://pre-{i}:1")
    registry.device_names[uuid_] = f"pre-{i}"
    registry.device_health_timeout[uuid_] = int(time.time()) + 3600
registry.daemon = True
registry.start()
print("ready", flush=True)
sys.stdin.read()  # until the bench closes stdin
`;

export interface ReferenceRegistry {
  /** tcp://127.0.0.1:PORT */
  address: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts a reference registry holding `preload` devices; resolves once it serves. */
export async function startReferenceRegistry(preload = 0): Promise<ReferenceRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'plantimager-reference-'));
  const script = join(dir, 'device_registry.py');
  writeFileSync(script, REGISTRY);
  const port = await freePort();
  const child = spawn('taskset', ['-c', '0', '/usr/bin/python3', script, String(port), String(preload)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the reference registry did not start in 60 s')), 60_000);
      child.stdout!.once('data', () => { clearTimeout(timer); resolve(); });
      void exited.then(() => { clearTimeout(timer); reject(new Error('the reference registry exited (is python3-zmq installed?)')); });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { address: `tcp://127.0.0.1:${port}`, pid: child.pid!, stop };
}
