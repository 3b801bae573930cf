/**
 * Builds the query that refetches one entity with a subscriber's selection: the selection under a
 * field of an event (e.g. `operation { status protectionGroup { boston { status } } }`) becomes
 * `query($key: ID!) { entity: operation(id: $key) { status protectionGroup { boston { status } } } }`,
 * with the fragments and variables that selection uses, so the gateway's planner resolves it across
 * every subgraph with the subscriber's own tokens.
 */
import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  Kind,
  type OperationDefinitionNode,
  OperationTypeNode,
  type SelectionNode,
  type SelectionSetNode,
  type VariableDefinitionNode,
  visit,
} from 'graphql';

/** How an entity type of the coordinator is fetched by key through a root query field. */
export interface EntityRefetch {
  /** Root query field, e.g. `operation`. */
  readonly field: string;
  /** Argument of that field that takes the key, e.g. `id`. */
  readonly argument: string;
  /** Key field of the entity, read from the event payload. */
  readonly keyField: string;
  /** GraphQL type of the variable passed to the argument. */
  readonly keyType: string;
}

/**
 * Entities an event may reference by key, and how to refetch them (ARCHITECTURE §4: the coordinator
 * owns `Operation`, `ProtectionGroup` and `Site`; sites add fields to them).
 */
export const ENTITY_REFETCH: Readonly<Record<string, EntityRefetch>> = {
  Operation: { field: 'operation', argument: 'id', keyField: 'id', keyType: 'ID!' },
  ProtectionGroup: { field: 'protectionGroup', argument: 'id', keyField: 'id', keyType: 'ID!' },
  Site: { field: 'site', argument: 'name', keyField: 'name', keyType: 'String!' },
};

/** Response key of the refetched entity in the refetch query. */
export const REFETCH_ALIAS = 'entity';

/** The selections of the field nodes that share one response key, as one selection set. */
export function mergedSelectionSet(fieldNodes: readonly FieldNode[]): SelectionSetNode {
  return {
    kind: Kind.SELECTION_SET,
    selections: fieldNodes.flatMap((node) => node.selectionSet?.selections ?? []),
  };
}

/**
 * Whether a selection asks only for fields in `available` (and `__typename`), looking through
 * fragments; then the event's reference answers it and no refetch is needed.
 */
export function selectsOnly(
  selectionSet: SelectionSetNode,
  available: ReadonlySet<string>,
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
  seen = new Set<string>(),
): boolean {
  return selectionSet.selections.every((sel: SelectionNode) => {
    switch (sel.kind) {
      case Kind.FIELD:
        return !sel.selectionSet && (sel.name.value === '__typename' || available.has(sel.name.value));
      case Kind.INLINE_FRAGMENT:
        return selectsOnly(sel.selectionSet, available, fragments, seen);
      case Kind.FRAGMENT_SPREAD: {
        const name = sel.name.value;
        if (seen.has(name)) return true;
        seen.add(name);
        const def = fragments[name];
        return def ? selectsOnly(def.selectionSet, available, fragments, seen) : false;
      }
      default:
        return false;
    }
  });
}

/** Names of the fragments and variables a selection uses, transitively through fragments. */
function usedNames(
  selectionSet: SelectionSetNode,
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
): { fragments: Set<string>; variables: Set<string> } {
  const usedFragments = new Set<string>();
  const variables = new Set<string>();
  const queue: SelectionSetNode[] = [selectionSet];
  while (queue.length > 0) {
    const next = queue.pop()!;
    visit(next, {
      FragmentSpread(node) {
        const name = node.name.value;
        if (usedFragments.has(name)) return;
        usedFragments.add(name);
        const def = fragments[name];
        if (def) queue.push(def.selectionSet);
      },
      Variable(node) {
        variables.add(node.name.value);
      },
    });
  }
  return { fragments: usedFragments, variables };
}

/** A variable name that none of `taken` uses. */
function freshName(base: string, taken: ReadonlySet<string>): string {
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}${i}`;
  return name;
}

/** The refetch query document and the name of its key variable. */
export interface RefetchQuery {
  readonly document: DocumentNode;
  readonly keyVariable: string;
  /** The subscriber's variables the query declares (pass their values with the key). */
  readonly variables: readonly string[];
}

/** Builds the refetch query of one entity field of an event (see the module comment). */
export function buildRefetchQuery(
  refetch: EntityRefetch,
  selectionSet: SelectionSetNode,
  operation: OperationDefinitionNode,
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
): RefetchQuery {
  const used = usedNames(selectionSet, fragments);
  const keyVariable = freshName('protectorEntityKey', used.variables);
  const variableDefinitions: VariableDefinitionNode[] = [
    {
      kind: Kind.VARIABLE_DEFINITION,
      variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: keyVariable } },
      type: refetch.keyType.endsWith('!')
        ? {
            kind: Kind.NON_NULL_TYPE,
            type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: refetch.keyType.slice(0, -1) } },
          }
        : { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: refetch.keyType } },
    },
    ...(operation.variableDefinitions ?? []).filter((def) => used.variables.has(def.variable.name.value)),
  ];
  const root: FieldNode = {
    kind: Kind.FIELD,
    alias: { kind: Kind.NAME, value: REFETCH_ALIAS },
    name: { kind: Kind.NAME, value: refetch.field },
    arguments: [
      {
        kind: Kind.ARGUMENT,
        name: { kind: Kind.NAME, value: refetch.argument },
        value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: keyVariable } },
      },
    ],
    selectionSet,
  };
  const query: OperationDefinitionNode = {
    kind: Kind.OPERATION_DEFINITION,
    operation: OperationTypeNode.QUERY,
    name: { kind: Kind.NAME, value: 'ProtectorSubscriptionRefetch' },
    variableDefinitions,
    selectionSet: { kind: Kind.SELECTION_SET, selections: [root] },
  };
  const fragmentDefs = [...used.fragments].flatMap((name) => (fragments[name] ? [fragments[name]] : []));
  return {
    document: { kind: Kind.DOCUMENT, definitions: [query, ...fragmentDefs] },
    keyVariable,
    variables: [...used.variables].filter((v) => v !== keyVariable),
  };
}
