/** Compiles each schema once and turns validation failures into INVALID_PARAMS with a readable path. */
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { MusterError } from '../errors.js';

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerFor<T extends TSchema>(schema: T): TypeCheck<T> {
  let check = compiled.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  return check as TypeCheck<T>;
}

/** Returns the value typed by the schema, or throws INVALID_PARAMS naming the first bad field. */
export function validate<T extends TSchema>(schema: T, value: unknown, what = 'params'): Static<T> {
  const check = checkerFor(schema);
  if (check.Check(value)) return value as Static<T>;
  const first = check.Errors(value).First();
  const where = first?.path ? `${what}${first.path.replaceAll('/', '.')}` : what;
  const message = first ? oneOf(first.schema) ?? first.message : 'invalid';
  throw new MusterError('INVALID_PARAMS', `${where}: ${message}`, { path: first?.path ?? '' });
}

/** A union of literals says which values it takes (TypeBox says only "Expected union value"). */
function oneOf(schema: TSchema): string | undefined {
  const options = (schema as { anyOf?: unknown }).anyOf;
  if (!Array.isArray(options) || options.length === 0) return undefined;
  const values = options.map((o: { const?: unknown }) => o.const);
  if (values.some((v) => v === undefined)) return undefined;
  return `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
}
