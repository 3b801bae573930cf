/**
 * The kit's own behaviour: a server started on port 0 is found at the URL its ready line reports,
 * waits fail saying what they waited for, and a process that exits early fails its start at once.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { deferred, OutputLines, runProcess, startProcess, waitFor, waitForLine, within } from './index.js';

const SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => res.end('hello'));
server.listen(0, '127.0.0.1', () => {
  console.error('some noise first');
  console.log('fixture ready at http://127.0.0.1:' + server.address().port + '/');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

describe('processes', () => {
  it('starts a server on port 0 and reads the URL it bound from its ready line', async () => {
    const p = await startProcess({
      command: process.execPath,
      args: ['-e', SERVER],
      name: 'fixture',
      ready: /ready at (\S+)/,
    });
    try {
      const url = p.ready[1]!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(await (await fetch(url)).text()).toBe('hello');
      expect((await p.waitForLine(/noise/))[0]).toBe('noise');
    } finally {
      await p.stop();
    }
    expect(p.hasExited()).toBe(true);
    expect(await p.exited).toEqual({ code: 0, signal: null });
  });

  it('fails the start when the process exits before its ready line, with its output', async () => {
    await expect(
      startProcess({
        command: process.execPath,
        args: ['-e', 'console.error("bad config"); process.exit(3)'],
        name: 'broken',
        ready: /ready at/,
      }),
    ).rejects.toThrow(/broken exited with code 3 before it was ready[\s\S]*bad config/);
  });

  it('kills a process that is not ready in time', async () => {
    await expect(
      startProcess({
        command: process.execPath,
        args: ['-e', 'setInterval(() => {}, 1000)'],
        name: 'slow',
        ready: /ready/,
        timeoutMs: 300,
      }),
    ).rejects.toThrow(/slow \(waiting for \/ready\/\): not seen within 300 ms/);
  });

  it('stops polling a process that exited, with its output', async () => {
    const p = await startProcess({
      command: process.execPath,
      args: [
        '-e',
        'console.log("up"); setTimeout(() => { console.error("crashed"); process.exit(4); }, 100)',
      ],
      name: 'short',
      ready: /up/,
    });
    const started = Date.now();
    await expect(p.waitFor('an answer', () => false, 10_000)).rejects.toThrow(
      /gave up waiting for an answer: short exited with code 4[\s\S]*crashed/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('runs a process to its exit', async () => {
    const r = await runProcess({
      command: process.execPath,
      args: ['-e', 'console.log("out"); console.error("err"); process.exit(2)'],
    });
    expect(r).toEqual({ code: 2, signal: null, stdout: 'out\n', stderr: 'err\n' });
  });
});

describe('waiting', () => {
  it('waits for a line, from what was written before or after', async () => {
    const stream = new PassThrough();
    const lines = new OutputLines().attach(stream);
    stream.write('first li');
    stream.write('ne\nsecond');
    expect((await waitForLine(lines, /first (\w+)/))[1]).toBe('line');
    const later = waitForLine(lines, /third/);
    stream.write(' half\nthird\n');
    await expect(later).resolves.toBeTruthy();
    expect(lines.lines()).toEqual(['first line', 'second half', 'third']);
    stream.end();
    await expect(waitForLine(lines, /never/)).rejects.toThrow(/the output ended without it/);
  });

  it('fails a wait at its deadline, naming what it waited for', async () => {
    await expect(waitForLine(new PassThrough(), /x/, { timeoutMs: 50, what: 'the x line' })).rejects.toThrow(
      /the x line: not seen within 50 ms/,
    );
    await expect(within(new Promise(() => {}), 50, 'answer')).rejects.toThrow('no answer within 50 ms');
    await expect(waitFor('nothing', () => false, 50, 10)).rejects.toThrow(
      /timed out after 50 ms waiting for nothing/,
    );
  });

  it('settles a deferred by hand', async () => {
    const d = deferred<number>();
    d.resolve(7);
    expect(await within(d.promise, 100, 'value')).toBe(7);
  });
});
