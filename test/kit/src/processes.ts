/**
 * Child processes of a test or of the lab: start one and wait for the line that says it is ready, which
 * reports where it listens (servers bind port 0 and print the URL or port they bound: read it from the
 * match, never pick a port beforehand); run one to its exit; stop it (SIGTERM, then SIGKILL) or kill it.
 * What a process writes is kept line by line for failure messages and {@link RunningProcess.waitForLine},
 * and can be mirrored to a log file and a stream. Loads nothing but node: modules, so the lab
 * (`npm start`) can use it without the test runner.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { GiveUp, OutputLines, type WaitForLineOptions, waitFor, waitForLine } from './waiting.js';

export interface ProcessOptions {
  readonly command: string;
  readonly args?: readonly string[];
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Names the process in messages. @default the command's file name */
  readonly name?: string;
  /**
   * Its own process group: `stop` and `kill` signal the whole group, so what it started dies with it
   * (a script that execs gunicorn, and gunicorn's workers).
   */
  readonly group?: boolean;
  /** Appends everything the process writes to this file (its folder is created). */
  readonly logFile?: string;
  /** Mirrors everything the process writes to this stream (`npm start`'s terminal). */
  readonly echo?: NodeJS.WritableStream;
}

export interface StartProcessOptions extends ProcessOptions {
  /**
   * The line (stdout or stderr) saying the process is ready, with what it bound in a group:
   * `/protector-site \S+ ready at (\S+)/`, `/Listening at: (http:\/\/\S+)/`.
   */
  readonly ready: RegExp;
  /** @default 30_000 */
  readonly timeoutMs?: number;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface RunningProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** The ready line's match: what the process reports it bound is in its groups. */
  readonly ready: RegExpExecArray;
  /** Every line it wrote so far (stdout and stderr). */
  readonly output: OutputLines;
  /** Resolves once the process has exited. */
  readonly exited: Promise<ExitStatus>;
  hasExited(): boolean;
  /** A line the process wrote or writes (see {@link waitForLine}); fails if it exits first. */
  waitForLine(pattern: RegExp, options?: Omit<WaitForLineOptions, 'unless'>): Promise<RegExpExecArray>;
  /**
   * Polls `probe` (e.g. an HTTP request to the process) like {@link waitFor}, but fails as soon as the
   * process exits, with its last output.
   */
  waitFor<T>(
    what: string,
    probe: () => Promise<T | undefined | false> | T | undefined | false,
    timeoutMs?: number,
  ): Promise<T>;
  /** SIGTERM (graceful), then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL; resolves once it has exited. */
  kill(): Promise<void>;
}

/** `exited with code 1`, `was killed by SIGKILL`. */
export function describeExit(status: ExitStatus): string {
  return status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
}

interface Spawned {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: OutputLines;
  readonly exited: Promise<ExitStatus>;
  hasExited(): boolean;
  signal(sig: NodeJS.Signals): void;
}

function spawnChild(o: ProcessOptions): Spawned {
  const name = o.name ?? basename(o.command);
  const child = spawn(o.command, [...(o.args ?? [])], {
    env: o.env ?? process.env,
    cwd: o.cwd,
    detached: o.group ?? false,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = new OutputLines();
  if (o.logFile) mkdirSync(dirname(o.logFile), { recursive: true });
  for (const stream of [child.stdout!, child.stderr!]) {
    output.attach(stream);
    if (o.logFile || o.echo) {
      const logFile = o.logFile;
      stream.on('data', (chunk: string) => {
        if (logFile) appendFileSync(logFile, chunk);
        o.echo?.write(chunk);
      });
    }
  }
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  const exited = new Promise<ExitStatus>((resolve) => {
    if (hasExited()) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  // A spawn failure (no such command) ends as an exit the waits see.
  child.once('error', (err) => {
    output.add(`${name}: ${err.message}`);
    if (child.pid === undefined) child.emit('exit', null, null);
  });
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (o.group && child.pid !== undefined) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      // gone already
    }
  };
  return { name, child, output, exited, hasExited, signal };
}

/**
 * Starts a process and resolves once it wrote its `ready` line; fails (and kills it) when it exits
 * first or the time is up, with its last output in the message.
 */
export async function startProcess(o: StartProcessOptions): Promise<RunningProcess> {
  const p = spawnChild(o);
  const timeoutMs = o.timeoutMs ?? 30_000;
  const gone = p.exited.then((s) => `${p.name} ${describeExit(s)} before it was ready`);
  const stop = async (graceMs: number) => {
    if (!p.hasExited()) {
      p.signal('SIGTERM');
      const timer = setTimeout(() => p.signal('SIGKILL'), graceMs);
      await p.exited;
      clearTimeout(timer);
    }
    if (o.group) p.signal('SIGKILL'); // stragglers of the group, if any
  };
  const kill = async () => {
    if (!p.hasExited()) p.signal('SIGKILL');
    await p.exited;
    if (o.group) p.signal('SIGKILL');
  };
  let ready: RegExpExecArray;
  try {
    ready = await waitForLine(p.output, o.ready, {
      timeoutMs,
      what: `${p.name} (waiting for ${o.ready})`,
      unless: gone,
    });
  } catch (err) {
    // Its output ends a moment before its exit is reported: say how it exited when it did.
    let timer: NodeJS.Timeout | undefined;
    const moment = new Promise<null>((r) => {
      timer = setTimeout(r, 1000, null);
    });
    const exit = await Promise.race([p.exited, moment]);
    clearTimeout(timer);
    await kill();
    if (exit && !(err instanceof Error && err.message.includes('before it was ready'))) {
      throw new Error(`${await gone}\n--- last output ---\n${p.output.tail()}`);
    }
    throw err;
  }
  return {
    name: p.name,
    child: p.child,
    ready,
    output: p.output,
    exited: p.exited,
    hasExited: p.hasExited,
    waitForLine: (pattern, options = {}) =>
      waitForLine(p.output, pattern, {
        ...options,
        unless: p.exited.then((s) => `${p.name} ${describeExit(s)}`),
      }),
    waitFor: (what, probe, timeoutMs = 30_000) =>
      waitFor(
        what,
        async () => {
          if (p.hasExited()) throw new GiveUp(`${p.name} ${describeExit(await p.exited)}`);
          return probe();
        },
        timeoutMs,
        200,
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n--- last output of ${p.name} ---\n${p.output.tail()}`);
      }),
    stop: (graceMs = 5000) => stop(graceMs),
    kill,
  };
}

export interface RunResult extends ExitStatus {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a process to its exit (e.g. `--check-config`); SIGKILLs it and fails after `timeoutMs`. */
export async function runProcess(o: ProcessOptions & { readonly timeoutMs?: number }): Promise<RunResult> {
  const p = spawnChild(o);
  let stdout = '';
  let stderr = '';
  p.child.stdout!.on('data', (d: string) => {
    stdout += d;
  });
  p.child.stderr!.on('data', (d: string) => {
    stderr += d;
  });
  const timeoutMs = o.timeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      p.signal('SIGKILL');
      reject(new Error(`${p.name} did not exit within ${timeoutMs} ms\n${p.output.tail()}`));
    }, timeoutMs);
  });
  try {
    const status = await Promise.race([p.exited, timedOut]);
    // 'exit' may come before the last output: wait for the streams to close.
    await new Promise<void>((resolve) => {
      if (p.child.stdout!.closed && p.child.stderr!.closed) resolve();
      else p.child.once('close', () => resolve());
    });
    return { ...status, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}
