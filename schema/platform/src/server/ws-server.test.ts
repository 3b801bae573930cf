import type { AddressInfo } from 'node:net';
import { buildSchema, execute, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { serveSubscriptions } from './ws-server.js';

const schema = buildSchema('type Query { hello: String } type Subscription { ticks: Int }');

async function start(keepAliveMs: number, onConnect?: (extra: object) => void) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const server = serveSubscriptions(
    {
      // graphql's own functions: the test's module of graphql, not the one graphql-ws would load.
      schema,
      execute,
      parse,
      validate,
      onConnect: (ctx) => {
        onConnect?.(ctx.extra as object);
        return true;
      },
      roots: { query: { hello: () => 'world' } },
    },
    wss,
    keepAliveMs,
  );
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, server };
}

function open(url: string, autoPong: boolean) {
  const ws = new WebSocket(url, 'graphql-transport-ws', { autoPong });
  const messages: unknown[] = [];
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  const opened = new Promise((resolve) => ws.once('open', resolve));
  return { ws, messages, closed, opened };
}

describe('serveSubscriptions', () => {
  it('keeps only the socket of a connection, acknowledges it and answers over it', async () => {
    let extra: object | null = null;
    const { url, server } = await start(60_000, (e) => {
      extra = e;
    });
    const c = open(url, true);
    await c.opened;
    const arrived = async (n: number) => {
      for (let i = 0; i < 200 && c.messages.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    c.ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await arrived(1);
    c.ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ hello }' } }));
    await arrived(3);
    expect(c.messages).toEqual([
      { type: 'connection_ack' },
      { id: '1', type: 'next', payload: { data: { hello: 'world' } } },
      { id: '1', type: 'complete' },
    ]);
    expect(Object.keys(extra!)).toEqual(['socket']);
    await server.dispose();
    expect(await c.closed).toBe(1001);
  });

  it('closes a connection that sends what is not JSON with 4400', async () => {
    const { url, server } = await start(60_000);
    const c = open(url, true);
    await c.opened;
    c.ws.send('{ not json');
    expect(await c.closed).toBe(4400);
    await server.dispose();
  });

  it('closes a connection that does not answer pings, and keeps one that does', async () => {
    const { url, server } = await start(100);
    const silent = open(url, false);
    const answering = open(url, true);
    await Promise.all([silent.opened, answering.opened]);
    const code = await silent.closed;
    expect(code).toBe(1006); // terminated: no closing handshake with a peer that does not answer
    await new Promise((r) => setTimeout(r, 250));
    expect(answering.ws.readyState).toBe(WebSocket.OPEN);
    await server.dispose();
  });
});
