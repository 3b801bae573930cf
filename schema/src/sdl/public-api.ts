/**
 * The public API as plain SDL: the coordinator subgraph plus the site template for each site key, as
 * the gateway composes them, with the federation directives stripped and the `@inaccessible` parts
 * (the site step mutations and their types) removed. What clients validate and type their documents
 * against (`buildSchema(publicApiSdl(keys))`); a selection it rejects, the real API rejects too.
 */
import {
  type DefinitionNode,
  type DirectiveNode,
  type DocumentNode,
  Kind,
  parse,
  print,
  visit,
} from 'graphql';
import { coordinatorSubgraphSdl } from './coordinator.js';
import { siteSubgraphSdl } from './site.js';

const isInaccessible = (node: { directives?: readonly DirectiveNode[] }) =>
  (node.directives ?? []).some((d) => d.name.value === 'inaccessible');

const hasName = (def: DefinitionNode): def is DefinitionNode & { name: { value: string } } =>
  'name' in def && def.name !== undefined;

/** Drops `@inaccessible` types and fields, schema definitions and extensions, and every directive. */
function publicDefinitions(sdl: string): DefinitionNode[] {
  const document = visit(parse(sdl), {
    FieldDefinition: (node) => (isInaccessible(node) ? null : undefined),
    InputValueDefinition: (node) => (isInaccessible(node) ? null : undefined),
  }) as DocumentNode;
  return visit(
    {
      ...document,
      definitions: document.definitions.filter(
        (def) =>
          def.kind !== Kind.SCHEMA_EXTENSION &&
          def.kind !== Kind.SCHEMA_DEFINITION &&
          !isInaccessible(def as never),
      ),
    },
    { Directive: () => null },
  ).definitions.slice();
}

/**
 * The public API schema for the given site keys, as SDL (no federation directives, nothing
 * `@inaccessible`). Each key must be a valid, unreserved site key.
 */
export function publicApiSdl(siteKeys: readonly string[]): string {
  const definitions = publicDefinitions(coordinatorSubgraphSdl);
  const fieldsOf = new Map<string, Set<string>>();
  for (const def of definitions) {
    if (def.kind === Kind.OBJECT_TYPE_DEFINITION) {
      fieldsOf.set(def.name.value, new Set((def.fields ?? []).map((f) => f.name.value)));
    } else if (hasName(def)) {
      fieldsOf.set(def.name.value, new Set());
    }
  }
  for (const key of siteKeys) {
    for (const def of publicDefinitions(siteSubgraphSdl(key))) {
      if (!hasName(def)) continue;
      const known = fieldsOf.get(def.name.value);
      if (def.kind === Kind.OBJECT_TYPE_DEFINITION && known && known.size > 0) {
        // An entity or root type the coordinator owns: the site adds its own fields (its key).
        const fields = (def.fields ?? []).filter((f) => !known.has(f.name.value));
        if (fields.length === 0) continue;
        for (const f of fields) known.add(f.name.value);
        definitions.push({ kind: Kind.OBJECT_TYPE_EXTENSION, name: def.name, fields });
      } else if (!known) {
        fieldsOf.set(
          def.name.value,
          new Set(
            def.kind === Kind.OBJECT_TYPE_DEFINITION ? (def.fields ?? []).map((f) => f.name.value) : [],
          ),
        );
        definitions.push(def);
      }
    }
  }
  return `${print({ kind: Kind.DOCUMENT, definitions })}\n`;
}
