import { describe, expect, it } from 'vitest';
import { sharedPayloads } from './shared-payloads.js';

describe('sharedPayloads', () => {
  const send = (shared: ReturnType<typeof sharedPayloads>, msg: object) =>
    String(shared.frame(JSON.stringify(msg, shared.replacer)));

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

  it('builds the bytes of a shared message once for the subscribers that use the same id', () => {
    const shared = sharedPayloads();
    const payload = { data: { n: 1 } };
    const frame = (id: string) =>
      shared.frame(JSON.stringify({ id, type: 'next', payload }, shared.replacer));
    const [a, b, c] = [frame('1'), frame('1'), frame('2')];
    expect(a).toBeInstanceOf(Buffer);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(JSON.parse(String(c))).toEqual({ id: '2', type: 'next', payload });
  });
});
