/**
 * Reading a call's params: most CO2 methods take one struct (param_dict), some may omit it; keys
 * are checked for presence, type and size, and text that reaches operators' terminals (nick,
 * plugins) may not hold control characters. Every refusal is INVALID_PARAMS naming the key.
 */
import { MusterError } from '../../errors.js';
import { isStruct, typeName, type XmlRpcStruct, type XmlRpcValue } from './values.js';

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const EMPTY: XmlRpcStruct = Object.freeze(Object.create(null) as XmlRpcStruct);

function bad(method: string, message: string): MusterError {
  return new MusterError('INVALID_PARAMS', `${method}: ${message}`);
}

/** The one struct param; `optional`: no param at all reads as {}. */
export function structParam(method: string, params: readonly XmlRpcValue[], optional = false): XmlRpcStruct {
  if (params.length === 0 && optional) return EMPTY;
  if (params.length !== 1) throw bad(method, `takes one struct param, got ${params.length} params`);
  const p = params[0];
  if (!isStruct(p)) throw bad(method, `takes a struct, got ${typeName(p)}`);
  return p;
}

/** A method name given as a string, or as a struct with `name` or `method` (either form is seen in the wild). */
export function methodNameParam(method: string, params: readonly XmlRpcValue[]): string {
  const p = params.length === 1 ? params[0] : undefined;
  const name = isStruct(p) ? (p.name ?? p.method) : p;
  if (typeof name !== 'string') throw bad(method, 'takes a method name (string)');
  return name;
}

export function requiredString(method: string, s: XmlRpcStruct, key: string, maxLength: number): string {
  const v = s[key];
  if (typeof v !== 'string') throw bad(method, `"${key}" must be a string, got ${typeName(v)}`);
  if (v.length > maxLength) throw bad(method, `"${key}" is longer than ${maxLength} characters`);
  return v;
}

export function optionalText(method: string, s: XmlRpcStruct, key: string, maxLength: number): string | undefined {
  if (s[key] === undefined) return undefined;
  const v = requiredString(method, s, key, maxLength);
  if (CONTROL.test(v)) throw bad(method, `"${key}" may not hold control characters`);
  return v;
}

export function requiredInt(method: string, s: XmlRpcStruct, key: string, min: number, max: number): number {
  const v = s[key];
  if (typeof v !== 'number') throw bad(method, `"${key}" must be an int, got ${typeName(v)}`);
  if (v < min || v > max) throw bad(method, `"${key}" must be ${min}..${max}`);
  return v;
}

/** A list of short strings without control characters or commas. */
export function optionalNames(method: string, s: XmlRpcStruct, key: string, maxItems: number, maxLength: number): string[] {
  const v = s[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw bad(method, `"${key}" must be an array of strings, got ${typeName(v as XmlRpcValue)}`);
  if (v.length > maxItems) throw bad(method, `"${key}" holds more than ${maxItems} items`);
  return (v as readonly XmlRpcValue[]).map((item, i) => {
    if (typeof item !== 'string' || item.length > maxLength || CONTROL.test(item) || item.includes(',')) {
      throw bad(method, `"${key}"[${i}] must be a string of at most ${maxLength} characters, without commas or control characters`);
    }
    return item;
  });
}

export function requiredValue(method: string, s: XmlRpcStruct, key: string): XmlRpcValue {
  const v = s[key];
  if (v === undefined) throw bad(method, `"${key}" is missing`);
  return v;
}
