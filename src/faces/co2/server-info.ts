/** system.get_properties: the seed's server facts, from the host and the hub. */
import { arch, cpus, machine, platform, release, type as osType } from 'node:os';
import { VERSION } from '../../version.js';
import { struct, XmlRpcDateTime, type XmlRpcStruct } from './values.js';

export interface ServerFacts {
  readonly startedAt: number;
  readonly maintainer: string;
  readonly maintainerEmail: string;
}

export function serverProperties(facts: ServerFacts, now = Date.now()): XmlRpcStruct {
  return struct([
    ['co2_author', 'muster'],
    ['co2_version', `muster ${VERSION}`],
    ['kernel', release()],
    ['operating_system', `${osType()} (${platform()})`],
    ['hardware', machine()],
    ['hw_platform', arch()],
    ['processor', cpus()[0]?.model ?? arch()],
    ['sw_platform', `Node.js ${process.version}`],
    ['maintainer', facts.maintainer],
    ['maintainer_email', facts.maintainerEmail],
    ['plugins', ['relay']],
    ['start_time', XmlRpcDateTime.of(facts.startedAt)],
    ['server_time', XmlRpcDateTime.of(now)],
    ['uptime', Math.floor((now - facts.startedAt) / 1000)],
  ]);
}
