/**
 * A satellite's properties as the seed lists them, read from its member's stats: the core's probe
 * stats (the pinger) and bus traffic stats (relays sent, notifies queued). Times the protocol
 * gives as DateTime are UTC; one that never happened is 19700101T00:00:00; ping figures never
 * measured are -1.0. `ping_count` counts every ping sent (answered or not). Beyond the seed:
 * `plugins` (as registered) and `notify_fails`.
 */
import type { Satellite } from './satellites.js';
import { struct, XmlRpcDateTime, XmlRpcDouble, type XmlRpcStruct } from './values.js';

const NEVER = XmlRpcDateTime.of(0);

export function satelliteProps(sat: Satellite): XmlRpcStruct {
  const m = sat.member;
  const probe = m.probe;
  const traffic = m.traffic;
  const ms = (v: number | null | undefined) => new XmlRpcDouble(v ?? -1);
  return struct([
    ['addr', [sat.ip, sat.port]],
    ['host_id', m.id],
    ['nick', m.meta.nick ?? m.id],
    ['name', m.name],
    ['ctime', XmlRpcDateTime.of(m.registeredAt)],
    ['ping_current', ms(probe?.last)],
    ['ping_count', (probe?.count ?? 0) + (probe?.fails ?? 0)],
    ['ping_min', ms(probe?.min)],
    ['ping_max', ms(probe?.max)],
    ['ping_avg', ms(probe?.avg)],
    ['ping_fails', probe?.fails ?? 0],
    ['send_count', traffic?.sent ?? 0],
    ['send_time', traffic?.lastSent ? XmlRpcDateTime.of(traffic.lastSent) : NEVER],
    ['recv_count', traffic?.received ?? 0],
    ['recv_time', traffic?.lastReceived ? XmlRpcDateTime.of(traffic.lastReceived) : NEVER],
    ['notify_fails', sat.link.stats.notifyFails],
    ['plugins', m.meta.plugins ? m.meta.plugins.split(',') : []],
  ]);
}
