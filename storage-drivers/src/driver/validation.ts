/**
 * The checks the driver makes before it sends anything to an array: volume names and sizes, group
 * refs, snapshot suffixes, replication intervals and materialize requests, each failing with the
 * registered error code.
 */
import {
  flashArrayNameProblem,
  ProtectorError,
  sizeProblem,
  suffixProblem,
  volumeNameProblem,
} from '@protector/schema';
import type {
  MaterializeRequest,
  RecoveryPoint,
  ReplicationGroupRef,
  ReplicationSchedule,
  VolumeSpec,
} from '../types.js';

export function checkVolumeSpecs(specs: readonly VolumeSpec[]): void {
  for (const s of specs) {
    const problem = volumeNameProblem(s.name) ?? sizeProblem(s.sizeBytes);
    if (problem) {
      throw new ProtectorError(volumeNameProblem(s.name) ? 'INVALID_NAME' : 'INVALID_SIZE', problem, {
        volume: s.name,
      });
    }
  }
}

/** A valid group name, replicating to a different array than its source. */
export function checkGroupRef(ref: ReplicationGroupRef): void {
  const problem = flashArrayNameProblem(ref.name);
  if (problem) throw new ProtectorError('INVALID_NAME', problem, { group: ref.name });
  if (ref.sourceArray === ref.targetArray) {
    throw new ProtectorError(
      'BAD_USER_INPUT',
      `Group '${ref.name}' must replicate to a different array than '${ref.sourceArray}'.`,
    );
  }
}

export function checkInterval(schedule: ReplicationSchedule): void {
  if (!Number.isInteger(schedule.intervalSeconds) || schedule.intervalSeconds < 1) {
    throw new ProtectorError(
      'BAD_USER_INPUT',
      `Replication interval ${schedule.intervalSeconds} is invalid: give a whole number of seconds, at least 1.`,
    );
  }
}

export function checkSuffix(suffix: string): void {
  const problem = suffixProblem(suffix);
  if (problem) throw new ProtectorError('INVALID_NAME', problem, { suffix });
}

/**
 * The recovery point `point` (`rp`, as listed on the target array) exists, is complete and holds a
 * snapshot of every requested source volume; every target volume name is valid.
 */
export function checkMaterialize(
  ref: ReplicationGroupRef,
  point: string,
  rp: RecoveryPoint | undefined,
  requests: readonly MaterializeRequest[],
): RecoveryPoint {
  if (!rp) {
    throw new ProtectorError(
      'NOT_FOUND',
      `Recovery point '${point}' does not exist on array '${ref.targetArray}'.`,
      { point },
    );
  }
  if (!rp.complete) {
    throw new ProtectorError(
      'RECOVERY_POINT_INCOMPLETE',
      `Recovery point '${point}' is still replicating (progress ${rp.progress.toFixed(2)}); wait for it to complete or choose a complete recovery point.`,
      { point, progress: rp.progress },
    );
  }
  for (const r of requests) {
    if (!rp.volumes.includes(r.sourceVolume)) {
      throw new ProtectorError(
        'NOT_FOUND',
        `Recovery point '${point}' holds no snapshot of volume '${r.sourceVolume}'.`,
        {
          point,
          volume: r.sourceVolume,
        },
      );
    }
    const problem = volumeNameProblem(r.targetVolume);
    if (problem) throw new ProtectorError('INVALID_NAME', problem, { volume: r.targetVolume });
  }
  return rp;
}
