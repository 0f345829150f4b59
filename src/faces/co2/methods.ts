/**
 * The relay's XML-RPC methods, each under every name the seed lists, with the help text and the
 * signature that the introspection methods report. Handlers read their params (params.ts), call
 * the satellites (satellites.ts) and return an XML-RPC value; a MusterError becomes a fault.
 */
import { MusterError } from '../../errors.js';
import { methodNameParam, optionalNames, optionalText, requiredInt, requiredString, requiredValue, structParam } from './params.js';
import { satelliteProps } from './props.js';
import type { Satellites } from './satellites.js';
import { struct, XmlRpcDouble, type XmlRpcStruct, type XmlRpcValue } from './values.js';

export interface CallContext {
  /** The caller's IP address (IPv4-mapped IPv6 addresses as plain IPv4). */
  readonly ip: string;
}

export interface MethodDef {
  /** Every name it answers to; the first is the one help shows. */
  readonly names: readonly string[];
  readonly help: string;
  /** Argument names, and the defaults of those that may be left out (methodSignature's args, args_d). */
  readonly args: readonly string[];
  readonly defaults?: XmlRpcStruct;
  run(params: readonly XmlRpcValue[], ctx: CallContext): XmlRpcValue | Promise<XmlRpcValue>;
}

const HOST_ID_MAX = 64;
const OPTIONAL_DICT = struct([['param_dict', struct()]]);

export function relayMethods(sats: Satellites): MethodDef[] {
  const satellite = (method: string, params: readonly XmlRpcValue[]) => sats.find(requiredString(method, structParam(method, params), 'host_id', HOST_ID_MAX));
  return [
    {
      names: ['relay.register'],
      help: 'register a satellite: {port (int), plugins (list of strings), nick (string), notify_pass (string)}; returns its host_id. Past max_sats a fault (REGISTRY_FULL). Registering again from the same IP and port replaces the earlier registration.',
      args: ['param_dict'],
      run: (params, ctx) => {
        const m = 'relay.register';
        const s = structParam(m, params);
        return sats.register({
          port: requiredInt(m, s, 'port', 1, 65535), nick: optionalText(m, s, 'nick', 256),
          plugins: optionalNames(m, s, 'plugins', 32, 64), notifyPass: optionalText(m, s, 'notify_pass', 256),
        }, ctx.ip);
      },
    },
    {
      names: ['relay.relay'],
      help: 'relay data to every other satellite: {host_id, data}; answers OK at once and delivers by calling each satellite\'s notify({host_id, data, notify_pass}) through its own queue and rate limiter. Also published on the native bus at /co2/relay/.',
      args: ['param_dict'],
      run: (params) => {
        const s = structParam('relay.relay', params);
        const sat = sats.find(requiredString('relay.relay', s, 'host_id', HOST_ID_MAX));
        sats.relay(sat, requiredValue('relay.relay', s, 'data'));
        return 'OK';
      },
    },
    {
      names: ['relay.deregister'],
      help: 'revoke a satellite\'s registration: {host_id}; only from the satellite\'s own IP address, or with {admin_token}. Returns OK.',
      args: ['param_dict'],
      run: async (params, ctx) => {
        const s = structParam('relay.deregister', params);
        const hostId = requiredString('relay.deregister', s, 'host_id', HOST_ID_MAX);
        await sats.deregister(hostId, ctx.ip, optionalText('relay.deregister', s, 'admin_token', 256));
        return 'OK';
      },
    },
    {
      names: ['relay.get_satellites', 'co2.get_satellites', 'web.get_satellites'],
      help: 'get the host ids of the registered satellites (list of strings).',
      args: ['param_dict'], defaults: OPTIONAL_DICT,
      run: (params) => { structParam('relay.get_satellites', params, true); return sats.hostIds(); },
    },
    {
      names: ['relay.get_num_satellites', 'co2.get_num_satellites', 'web.get_num_satellites'],
      help: 'get the number of registered satellites (int).',
      args: ['param_dict'], defaults: OPTIONAL_DICT,
      run: (params) => { structParam('relay.get_num_satellites', params, true); return sats.count; },
    },
    {
      names: ['relay.get_max_satellites'],
      help: 'get the number of satellites that may be registered at once (max_sats, int).',
      args: ['param_dict'], defaults: OPTIONAL_DICT,
      run: (params) => { structParam('relay.get_max_satellites', params, true); return sats.maxSats; },
    },
    {
      names: ['relay.get_satellite_props', 'co2.get_satellite_props', 'web.get_satellite_props', 'co2.get_satellite'],
      help: 'get a satellite\'s properties: {host_id} -> {addr [ip, port], host_id, nick, name, ctime, ping_current, ping_count, ping_min, ping_max, ping_avg, ping_fails, send_count, send_time, recv_count, recv_time, notify_fails, plugins}.',
      args: ['param_dict'],
      run: (params) => satelliteProps(satellite('relay.get_satellite_props', params)),
    },
    {
      names: ['relay.get_satellite_ctime', 'co2.get_satellite_ctime', 'web.get_satellite_ctime'],
      help: 'get a satellite\'s registration time: {host_id} -> seconds since the epoch (double).',
      args: ['param_dict'],
      run: (params) => new XmlRpcDouble(satellite('relay.get_satellite_ctime', params).member.registeredAt / 1000),
    },
  ];
}

/** ping, test and introspection over the whole table (`all` includes these). */
export function serverMethods(all: () => ReadonlyMap<string, MethodDef>, properties: () => XmlRpcStruct): MethodDef[] {
  const lookup = (method: string, params: readonly XmlRpcValue[]): MethodDef => {
    const name = methodNameParam(method, params);
    const def = all().get(name);
    if (!def) throw new MusterError('METHOD_NOT_FOUND', `No method ${JSON.stringify(name.slice(0, 80))}`);
    return def;
  };
  return [
    { names: ['ping'], help: 'is the server there? Returns OK.', args: [], run: () => 'OK' },
    {
      names: ['test'], help: 'returns its argument unchanged (any XML-RPC value).', args: ['data'],
      run: (params) => {
        if (params.length !== 1) throw new MusterError('INVALID_PARAMS', `test: takes one param, got ${params.length}`);
        return params[0]!;
      },
    },
    {
      names: ['system.listMethods', 'sys.listMethods', 'co2.co2_get_method_names', 'co2.get_method_names', 'web.get_method_names'],
      help: 'get the names of the available methods (list of strings).', args: [],
      run: () => [...all().keys()].sort(),
    },
    {
      names: ['system.methodHelp', 'sys.methodHelp', 'co2.get_method_help', 'web.get_method_help'],
      help: 'get the help text of a method: (method name) -> string.', args: ['method_name'],
      run: (params) => lookup('system.methodHelp', params).help,
    },
    {
      names: ['system.methodSignature', 'sys.methodSignature', 'co2.get_method_signature', 'web.get_method_signature'],
      help: 'get how to call a method: (method name) -> {args: [names], args_d: {name: default}, args_v: [], args_kw: []}.', args: ['method_name'],
      run: (params) => {
        const def = lookup('system.methodSignature', params);
        return struct([['args', [...def.args]], ['args_d', def.defaults ?? struct()], ['args_v', []], ['args_kw', []]]);
      },
    },
    {
      names: ['system.get_properties', 'sys.get_properties', 'web.get_properties'],
      help: 'get server facts: co2_author, kernel, uptime, operating_system, maintainer, start_time, sw_platform, hw_platform, co2_version, maintainer_email, hardware, plugins, server_time, processor.',
      args: [], run: () => properties(),
    },
  ];
}

/** Every name of every method, to its definition. */
export function methodTable(defs: readonly MethodDef[]): Map<string, MethodDef> {
  const table = new Map<string, MethodDef>();
  for (const d of defs) for (const n of d.names) table.set(n, d);
  return table;
}
