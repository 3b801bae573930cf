/**
 * Protection group snapshots over time: taking one (by request or on the group's schedule) and
 * starting its transfer to each allowed target, transfer progress as simulated time passes (a slow
 * source stretches it, a link that is down stalls it), retention, and dropping a snapshot.
 */
import { suffixProblem } from '@protector/schema';
import { arrayRow, linkStatus } from './arrays.js';
import type { ArrayModel, PgroupRow, PgroupSnapRow } from './model.js';
import { bad } from './rest.js';
import { insertVolumeSnap } from './volume-snapshots.js';
import { liveVolume } from './volumes.js';

/** Snapshots every member volume, and, when replicating, starts the transfer to each allowed target. */
export function takePgroupSnap(
  m: ArrayModel,
  group: PgroupRow,
  suffix: string | undefined,
  replicate: boolean,
): PgroupSnapRow {
  const now = m.now();
  const seq = group.snap_seq + 1;
  m.db
    .prepare('UPDATE pgroups SET snap_seq = ? WHERE array = ? AND name = ?')
    .run(seq, group.array, group.name);
  const sfx = suffix ?? String(seq);
  const problem = suffixProblem(sfx);
  if (problem) throw bad(problem, sfx);
  const name = `${group.name}.${sfx}`;
  if (m.db.prepare('SELECT 1 FROM pgroup_snaps WHERE array = ? AND name = ?').get(group.array, name)) {
    throw bad(`Protection group snapshot '${name}' already exists.`, name);
  }
  const volumes = (
    m.db
      .prepare('SELECT volume FROM pgroup_volumes WHERE array = ? AND pgroup = ?')
      .all(group.array, group.name) as {
      volume: string;
    }[]
  ).map((r) => liveVolume(m, group.array, r.volume));
  const insert = m.db.prepare(
    `INSERT INTO pgroup_snaps (array, name, pgroup, source_array, suffix, created, duration_ms, transferred_ms, last_tick, completed)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  insert.run(group.array, name, group.name, group.array, sfx, now, 0, 0, now, now);
  for (const v of volumes) insertVolumeSnap(m, group.array, `${name}.${v.name}`, v, name);
  if (replicate) {
    const targets = m.db
      .prepare('SELECT target FROM pgroup_targets WHERE array = ? AND pgroup = ? AND allowed = 1')
      .all(group.array, group.name) as { target: string }[];
    const duration = m.transferMs;
    for (const { target } of targets) {
      const remoteGroup = `${group.array}:${group.name}`;
      const remoteName = `${group.array}:${name}`;
      insert.run(
        target,
        remoteName,
        remoteGroup,
        group.array,
        sfx,
        now,
        duration,
        0,
        now,
        duration === 0 ? now : null,
      );
      for (const v of volumes) insertVolumeSnap(m, target, `${remoteName}.${v.name}`, v, remoteName);
      applyRetention(m, target, remoteGroup, group);
    }
  }
  applyRetention(m, group.array, group.name, group);
  return m.db
    .prepare('SELECT * FROM pgroup_snaps WHERE array = ? AND name = ?')
    .get(group.array, name) as PgroupSnapRow;
}

/** FlashArray retention: keep all snapshots younger than all_for_sec; then per_day x days more, newest first. */
function applyRetention(m: ArrayModel, array: string, pgroup: string, policy: PgroupRow): void {
  const now = m.now();
  const snaps = m.db
    .prepare(
      'SELECT * FROM pgroup_snaps WHERE array = ? AND pgroup = ? AND destroyed = 0 ORDER BY created DESC, name DESC',
    )
    .all(array, pgroup) as PgroupSnapRow[];
  let extra = policy.per_day * policy.days;
  for (const s of snaps) {
    if (now - s.created <= policy.all_for_sec * 1000) continue;
    if (s.completed === null) continue;
    if (extra > 0) {
      extra--;
      continue;
    }
    dropPgroupSnap(m, array, s.name);
  }
}

/** Takes the replicated snapshot of every source group whose schedule is due (not on an array that is down). */
export function runSchedules(m: ArrayModel, now: number): void {
  const due = m.db
    .prepare(
      'SELECT * FROM pgroups WHERE schedule_enabled = 1 AND destroyed = 0 AND array = source AND last_scheduled + frequency_ms <= ?',
    )
    .all(now) as PgroupRow[];
  for (const group of due) {
    if (arrayRow(m, group.array).down) continue;
    m.db
      .prepare('UPDATE pgroups SET last_scheduled = ? WHERE array = ? AND name = ?')
      .run(now, group.array, group.name);
    takePgroupSnap(m, group, undefined, true);
  }
}

/** Moves every running transfer on to `now`; one that has moved its whole duration completes. */
export function advanceTransfers(m: ArrayModel, now: number): void {
  for (const snap of m.db
    .prepare('SELECT * FROM pgroup_snaps WHERE completed IS NULL AND array != source_array AND destroyed = 0')
    .all() as PgroupSnapRow[]) {
    const dt = Math.max(0, now - snap.last_tick);
    const up = linkStatus(m, snap.source_array, snap.array) === 'connected';
    // A slow link (fault) stretches the remaining transfer; a link that is down stalls it.
    const transferred = up
      ? snap.transferred_ms + dt / arrayRow(m, snap.source_array).slow_factor
      : snap.transferred_ms;
    const done = transferred >= snap.duration_ms;
    m.db
      .prepare(
        'UPDATE pgroup_snaps SET transferred_ms = ?, last_tick = ?, completed = ? WHERE array = ? AND name = ?',
      )
      .run(
        Math.min(Math.round(transferred), snap.duration_ms),
        now,
        done ? now - Math.round(transferred - snap.duration_ms) : null,
        snap.array,
        snap.name,
      );
  }
}

/** Removes a group snapshot and its volume snapshots. */
export function dropPgroupSnap(m: ArrayModel, array: string, name: string): void {
  m.db.prepare('DELETE FROM volume_snaps WHERE array = ? AND pgroup_snap = ?').run(array, name);
  m.db.prepare('DELETE FROM pgroup_snaps WHERE array = ? AND name = ?').run(array, name);
}
