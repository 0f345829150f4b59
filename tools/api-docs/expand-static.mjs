/**
 * TypeDoc plugin for the SDK reference. The wire types come from TypeBox schemas: a type
 * (`Static<typeof Schema>`, or an interface) shares its name with its schema constant, and the
 * SDK re-exports the name. Left alone, TypeDoc documents both meanings (the schema as
 * `TObject<...>`, the type as `Static<typeof ...>`), which tells a reader nothing. Here the
 * schema constant is left out and a type alias is documented as what it resolves to (its
 * fields, or its literal values).
 */
import { Converter, ReflectionKind, UnionType } from 'typedoc';
import ts from 'typescript';

const KINDS = [ReflectionKind.TypeAlias, ReflectionKind.Variable, ReflectionKind.Interface];

export function load(app) {
  /** Reflections of names that are both a schema constant and a type, by name. */
  const groups = new Map();
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!KINDS.includes(reflection.kind)) return;
    const decls = context.getSymbolFromReflection(reflection)?.declarations ?? [];
    const schema = decls.some((d) => ts.isVariableDeclaration(d));
    const alias = decls.find((d) => ts.isTypeAliasDeclaration(d));
    const iface = decls.some((d) => ts.isInterfaceDeclaration(d));
    if (!schema || (!alias && !iface)) return;
    const group = groups.get(reflection.name) ?? [];
    group.push({ reflection, alias, context: context.withScope(reflection) });
    groups.set(reflection.name, group);
  });
  // Before the groups and the index are made (they would still list what is removed later).
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (endContext) => {
    for (const group of groups.values()) {
      // An interface documents itself; otherwise the first alias is kept and resolved.
      const keep = group.find((g) => g.reflection.kind === ReflectionKind.Interface) ?? group.find((g) => g.alias);
      for (const g of group) if (g !== keep) endContext.project.removeReflection(g.reflection);
      if (!keep || keep.reflection.kind === ReflectionKind.Interface) continue;
      const { reflection, alias, context } = keep;
      const type = context.checker.getTypeAtLocation(alias.type);
      // A union keeps its alias's name in TypeScript: its members are converted one by one so it reads as its values.
      reflection.type = type.isUnion()
        ? new UnionType(type.types.map((t) => context.converter.convertType(context, t)))
        : context.converter.convertType(context, type);
    }
  }, 200);
}
