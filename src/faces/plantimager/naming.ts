/**
 * plantimager's naming rules, pure. The proposed name if free, else `name-1`, `name-2`, ...;
 * an empty name becomes `{device_type}-0`, then `{device_type}-1`, ... (the original's `-1` for a
 * clashing empty name is a bug not kept). muster names are 1-64 characters of [A-Za-z0-9._-], so
 * other characters become `-`; the device learns its final name from REGISTER_ACK anyway.
 */
import { firstFreeName } from '../../core/names.js';

const NOT_NAME_CHAR = /[^A-Za-z0-9._-]/g;
const NOT_TYPE_CHAR = /[^A-Za-z0-9._/-]/g;

/** A member type from a device_type (the registry's type pattern, 1-64 characters). */
export function memberType(deviceType: string): string {
  return deviceType.replace(NOT_TYPE_CHAR, '-').slice(0, 64) || 'device';
}

/** The name to propose: the sanitized name, or '' when the device proposed none. */
export function sanitizeName(name: string): string {
  return name.replace(NOT_NAME_CHAR, '-').slice(0, 64);
}

/** The final name under plantimager's rules, given which names are taken. */
export function chooseName(proposed: string, deviceType: string, taken: (name: string) => boolean): string {
  const name = sanitizeName(proposed);
  if (name !== '') return firstFreeName(name, taken);
  const base = deviceType.replace(NOT_NAME_CHAR, '-').slice(0, 60) || 'device';
  const zero = `${base}-0`;
  return taken(zero) ? firstFreeName(base, taken, 1) : zero;
}
