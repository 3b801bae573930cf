import {
  type FieldNode,
  type FragmentDefinitionNode,
  Kind,
  type OperationDefinitionNode,
  parse,
  print,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildRefetchQuery, ENTITY_REFETCH, mergedSelectionSet, selectsOnly } from './entity-refetch.js';

const doc = parse(/* GraphQL */ `
  subscription S($id: ID!, $withGroup: Boolean!, $unused: Int, $protectorEntityKey: String) {
    operationProgress(id: $id) {
      operation { ...Op st: status protectionGroup @include(if: $withGroup) { id } }
      operation { id note: stepsTotal @skip(if: $protectorEntityKey) }
    }
  }
  fragment Op on Operation { id ...Deeper }
  fragment Deeper on Operation { percentComplete }
  fragment Unrelated on Operation { type }
`);
const operation = doc.definitions.find(
  (d) => d.kind === Kind.OPERATION_DEFINITION,
) as OperationDefinitionNode;
const fragments = Object.fromEntries(
  doc.definitions
    .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
    .map((d) => [d.name.value, d]),
);
const root = operation.selectionSet.selections[0] as FieldNode;
const operationFields = root.selectionSet!.selections as FieldNode[];

describe('buildRefetchQuery', () => {
  it('refetches the merged selection by key, with only the fragments and variables it uses', () => {
    const selection = mergedSelectionSet(operationFields);
    const q = buildRefetchQuery(ENTITY_REFETCH['Operation']!, selection, operation, fragments);
    // The subscriber already uses $protectorEntityKey: the key variable gets another name.
    expect(q.keyVariable).toBe('protectorEntityKey2');
    expect(new Set(q.variables)).toEqual(new Set(['withGroup', 'protectorEntityKey']));
    expect(print(q.document)).toBe(
      print(
        parse(/* GraphQL */ `
          query ProtectorSubscriptionRefetch($protectorEntityKey2: ID!, $withGroup: Boolean!, $protectorEntityKey: String) {
            entity: operation(id: $protectorEntityKey2) {
              ...Op st: status protectionGroup @include(if: $withGroup) { id }
              id note: stepsTotal @skip(if: $protectorEntityKey)
            }
          }
          fragment Op on Operation { id ...Deeper }
          fragment Deeper on Operation { percentComplete }
        `),
      ),
    );
  });

  it('uses the root field and key type of each entity', () => {
    const selection = parse('{ x { name status } }').definitions[0] as OperationDefinitionNode;
    const field = selection.selectionSet.selections[0] as FieldNode;
    const q = buildRefetchQuery(ENTITY_REFETCH['Site']!, field.selectionSet!, operation, {});
    expect(print(q.document)).toContain('query ProtectorSubscriptionRefetch($protectorEntityKey: String!)');
    expect(print(q.document)).toContain('entity: site(name: $protectorEntityKey)');
  });
});

describe('selectsOnly', () => {
  it('is true for key fields and __typename, through fragments', () => {
    const sel = parse('{ a { id __typename ... on Operation { id } ...K } } fragment K on Operation { id }');
    const field = (sel.definitions[0] as OperationDefinitionNode).selectionSet.selections[0] as FieldNode;
    const frags = { K: sel.definitions[1] as FragmentDefinitionNode };
    expect(selectsOnly(field.selectionSet!, new Set(['id']), frags)).toBe(true);
    expect(selectsOnly(field.selectionSet!, new Set(['name']), frags)).toBe(false);
  });

  it('is false for a field with a sub-selection or one the reference lacks', () => {
    const sel = parse('{ a { id status protectionGroup { id } } }');
    const field = (sel.definitions[0] as OperationDefinitionNode).selectionSet.selections[0] as FieldNode;
    expect(selectsOnly(field.selectionSet!, new Set(['id', 'status', 'protectionGroup']), {})).toBe(false);
  });
});
