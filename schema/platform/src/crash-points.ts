/**
 * Crash points for fault tests: with `PROTECTOR_CRASH_AT=<point>` in its environment, a process kills
 * itself with SIGKILL (as a power loss would: no cleanup, no flush) the first time it reaches that
 * point. Points are named `<process>:<step>:<where>`, e.g. `site:materializeRecoveryPoint:mid`. Off
 * unless the variable is set; nothing else reads it.
 */
const armed = process.env.PROTECTOR_CRASH_AT ?? '';

export function crashPoint(point: string): void {
  if (!armed || armed !== point) return;
  process.stderr.write(`crash point ${point} reached: killing this process (PROTECTOR_CRASH_AT)\n`);
  process.kill(process.pid, 'SIGKILL');
}
