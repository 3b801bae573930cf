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
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isAbstractType,
  isInterfaceType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  OperationTypeNode,
  print,
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

const fieldNode = (name: string): FieldNode => ({ kind: Kind.FIELD, name: { kind: Kind.NAME, value: name } });

/**
 * A selection with every entity-typed field (`Site`, `ProtectionGroup`, `Operation`) reduced to
 * `{ __typename <key> }`, fragment spreads inlined (their type conditions kept), and `__typename`
 * added under abstract types: what a site can answer of a subscriber's selection. The gateway
 * refetches the entities per event with the subscriber's own selection.
 */
export function keyOnlySelection(
  schema: GraphQLSchema,
  selectionSet: SelectionSetNode,
  parentType: GraphQLNamedType | undefined,
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
): SelectionSetNode {
  const selections: SelectionNode[] = [];
  for (const sel of selectionSet.selections) {
    if (sel.kind === Kind.FIELD) {
      const def =
        isObjectType(parentType) || isInterfaceType(parentType)
          ? parentType.getFields()[sel.name.value]
          : undefined;
      if (!sel.selectionSet || !def) {
        selections.push(sel);
        continue;
      }
      const type = getNamedType(def.type);
      const rule = ENTITY_REFETCH[type.name];
      const inner = rule
        ? { kind: Kind.SELECTION_SET, selections: [fieldNode('__typename'), fieldNode(rule.keyField)] }
        : keyOnlySelection(schema, sel.selectionSet, type, fragments);
      selections.push({ ...sel, selectionSet: inner as SelectionSetNode });
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      const type = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parentType;
      selections.push({ ...sel, selectionSet: keyOnlySelection(schema, sel.selectionSet, type, fragments) });
    } else {
      const def = fragments[sel.name.value];
      if (!def) continue;
      selections.push({
        kind: Kind.INLINE_FRAGMENT,
        typeCondition: def.typeCondition,
        ...(sel.directives ? { directives: sel.directives } : {}),
        selectionSet: keyOnlySelection(
          schema,
          def.selectionSet,
          schema.getType(def.typeCondition.name.value),
          fragments,
        ),
      });
    }
  }
  if (isAbstractType(parentType)) selections.unshift(fieldNode('__typename'));
  return { kind: Kind.SELECTION_SET, selections };
}

/** A subscription as a site is sent it: the query and the subscriber's variables it uses. */
export interface SiteSubscriptionDocument {
  readonly query: string;
  readonly variables: Record<string, unknown>;
  readonly operationName?: string;
}

/**
 * The subscription a site is sent for a subscriber's site root field (`boston(filter: ...) { ... }`):
 * the same root field and arguments, unaliased (the site's event is `data.<field>`), with the
 * subscriber's selection reduced by {@link keyOnlySelection}, and only the variables that are left.
 */
export function buildSiteSubscription(
  schema: GraphQLSchema,
  rootFieldNodes: readonly FieldNode[],
  operation: OperationDefinitionNode,
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
  variableValues: Readonly<Record<string, unknown>>,
): SiteSubscriptionDocument {
  const first = rootFieldNodes[0];
  if (!first) throw new Error('A subscription needs a root field.');
  const def = schema.getSubscriptionType()?.getFields()[first.name.value];
  if (!def) throw new Error(`Subscription field '${first.name.value}' is not in the supergraph.`);
  const { alias: _alias, ...unaliased } = first;
  const root: FieldNode = {
    ...unaliased,
    selectionSet: keyOnlySelection(
      schema,
      mergedSelectionSet(rootFieldNodes),
      getNamedType(def.type),
      fragments,
    ),
  };
  const used = usedNames({ kind: Kind.SELECTION_SET, selections: [root] }, fragments);
  const name = operation.name?.value;
  const query: OperationDefinitionNode = {
    kind: Kind.OPERATION_DEFINITION,
    operation: OperationTypeNode.SUBSCRIPTION,
    ...(operation.name ? { name: operation.name } : {}),
    variableDefinitions: (operation.variableDefinitions ?? []).filter((v) =>
      used.variables.has(v.variable.name.value),
    ),
    selectionSet: { kind: Kind.SELECTION_SET, selections: [root] },
  };
  const variables: Record<string, unknown> = {};
  for (const v of used.variables) if (Object.hasOwn(variableValues, v)) variables[v] = variableValues[v];
  return {
    query: print({ kind: Kind.DOCUMENT, definitions: [query] }),
    variables,
    ...(name ? { operationName: name } : {}),
  };
}
