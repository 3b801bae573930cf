// The floor of a fan-out on this machine: a bare `ws` server (no GraphQL, no graphql-ws, no checks)
// that sends frames it was given, each serialised once, to every connection. bench:subscriptions
// replays its own events through it at the times they occurred, to the same number of connections
// opened from the same bench process, so its latencies are what the machine allows for that fan-out.
//
// Run as a child process (fork): it tells its parent { port }; then, on { replay: [{ offsetMs, text }] },
// sends each text at its offset, with OCCURRED_AT in it replaced by the time of sending, and answers
// { sent: true } after the last.
import { WebSocketServer } from 'ws';

export const OCCURRED_AT = '@@occurredAt@@';

if (process.send) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('listening', () => process.send({ port: wss.address().port }));
  process.on('message', (m) => {
    if (!m?.replay) return;
    const t0 = Date.now();
    let left = m.replay.length;
    for (const { offsetMs, text } of m.replay) {
      setTimeout(
        () => {
          const frame = text.replace(OCCURRED_AT, new Date().toISOString());
          for (const ws of wss.clients) ws.send(frame);
          if (--left === 0) process.send({ sent: true });
        },
        Math.max(0, t0 + offsetMs - Date.now()),
      );
    }
  });
  process.on('disconnect', () => process.exit(0));
}
