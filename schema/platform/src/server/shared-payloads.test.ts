import { describe, expect, it } from 'vitest';
import { sharedPayloads } from './shared-payloads.js';

describe('sharedPayloads', () => {
  const send = (shared: ReturnType<typeof sharedPayloads>, msg: object) =>
    shared.frame(JSON.stringify(msg, shared.replacer));

  it('writes the frames graphql-ws would, serialising one payload object once for every subscriber', () => {
    const shared = sharedPayloads();
    let serialisations = 0;
    const data = { operationProgress: { status: 'RUNNING', steps: [{ key: 'recover', payload: 'inside' }] } };
    // Serialising reads `data`: the getter counts the serialisations.
    const payload = {
      get data() {
        serialisations++;
        return data;
      },
    };
    const frames = ['a', 'b', 'c'].map((id) => send(shared, { id, type: 'next', payload }));
    expect(frames.map((f) => JSON.parse(f))).toEqual(
      ['a', 'b', 'c'].map((id) => ({ id, type: 'next', payload: { data } })),
    );
    expect(serialisations).toBe(1);
    // A new payload object (the next event) is serialised anew.
    expect(JSON.parse(send(shared, { id: 'a', type: 'next', payload: { data: { n: 2 } } }))).toEqual({
      id: 'a',
      type: 'next',
      payload: { data: { n: 2 } },
    });
  });

  it('leaves messages without an object payload, and a client id that mimics the marker, as they are', () => {
    const shared = sharedPayloads();
    expect(send(shared, { id: 'x', type: 'complete' })).toBe('{"id":"x","type":"complete"}');
    expect(send(shared, { type: 'ping' })).toBe('{"type":"ping"}');
    const sly = '\u0000payload\u0000';
    const frame = send(shared, { id: sly, type: 'error', payload: [{ message: 'no' }] });
    expect(JSON.parse(frame)).toEqual({ id: sly, type: 'error', payload: [{ message: 'no' }] });
  });
});
