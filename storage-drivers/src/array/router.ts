/**
 * The REST 2.x routes the model answers: each `METHOD /path` to the part of the model that handles
 * it, wrapped in FlashArray's answer shapes (list envelope, `{items}`, `{}`); anything else is a 404.
 */
import type { ArrayRequest } from '../client/wire.js';
import { arrayItem, connectionItems } from './arrays.js';
import type { ArrayModel } from './model.js';
import {
  eradicatePgroupSnaps,
  patchPgroupSnaps,
  postPgroupSnaps,
  selectPgroupSnaps,
  selectPgroupTransfers,
} from './pgroup-snapshots.js';
import {
  changePgroupVolumes,
  deletePgroupTargets,
  eradicatePgroups,
  patchPgroups,
  patchPgroupTargets,
  postPgroups,
  postPgroupTargets,
  selectPgroups,
  selectPgroupTargets,
  selectPgroupVolumes,
} from './pgroups.js';
import {
  eradicatePods,
  patchPods,
  postPods,
  selectPodArrays,
  selectPods,
  stretchPod,
  unstretchPod,
} from './pods.js';
import type { Item } from './query.js';
import { ArrayError, type Body, listOf, type Query, required } from './rest.js';
import { postVolumeSnaps, selectVolumeSnaps } from './volume-snapshots.js';
import { eradicateVolumes, patchVolumes, postVolumes, selectVolumes } from './volumes.js';

type Route = (m: ArrayModel, array: string, q: Query, body: Body) => unknown;

/** A GET: the selected items in a list envelope. */
const list =
  (select: (m: ArrayModel, array: string, q: Query) => Item[]): Route =>
  (m, array, q) =>
    listOf(select(m, array, q), q);
/** A POST or PATCH: the created or changed items. */
const items =
  (change: (m: ArrayModel, array: string, q: Query, body: Body) => Item[]): Route =>
  (m, array, q, body) => ({ items: change(m, array, q, body) });
/** A DELETE: an empty body. */
const none =
  (remove: (m: ArrayModel, array: string, q: Query) => void): Route =>
  (m, array, q) => {
    remove(m, array, q);
    return {};
  };

/** Keyed by `METHOD /path` (the path below `/api/2.x`). */
const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['GET /arrays', list((m, array) => [arrayItem(m, array)])],
  ['GET /array-connections', list(connectionItems)],
  ['GET /volumes', list(selectVolumes)],
  ['POST /volumes', items(postVolumes)],
  ['PATCH /volumes', items(patchVolumes)],
  ['DELETE /volumes', none((m, array, q) => eradicateVolumes(m, array, required(q, 'names')))],
  ['GET /volume-snapshots', list(selectVolumeSnaps)],
  ['POST /volume-snapshots', items(postVolumeSnaps)],
  ['GET /protection-groups', list(selectPgroups)],
  ['POST /protection-groups', items(postPgroups)],
  ['PATCH /protection-groups', items(patchPgroups)],
  ['DELETE /protection-groups', none((m, array, q) => eradicatePgroups(m, array, required(q, 'names')))],
  ['GET /protection-groups/volumes', list(selectPgroupVolumes)],
  ['POST /protection-groups/volumes', items((m, array, q) => changePgroupVolumes(m, array, q, true))],
  ['DELETE /protection-groups/volumes', none((m, array, q) => changePgroupVolumes(m, array, q, false))],
  ['GET /protection-groups/targets', list(selectPgroupTargets)],
  ['POST /protection-groups/targets', items(postPgroupTargets)],
  ['PATCH /protection-groups/targets', items(patchPgroupTargets)],
  ['DELETE /protection-groups/targets', none(deletePgroupTargets)],
  ['GET /protection-group-snapshots', list(selectPgroupSnaps)],
  ['POST /protection-group-snapshots', items(postPgroupSnaps)],
  ['PATCH /protection-group-snapshots', items(patchPgroupSnaps)],
  [
    'DELETE /protection-group-snapshots',
    none((m, array, q) => eradicatePgroupSnaps(m, array, required(q, 'names'))),
  ],
  ['GET /protection-group-snapshots/transfer', list(selectPgroupTransfers)],
  ['GET /pods', list(selectPods)],
  ['POST /pods', items(postPods)],
  ['PATCH /pods', items(patchPods)],
  ['DELETE /pods', none((m, array, q) => eradicatePods(m, array, required(q, 'names')))],
  // REST 2.26 has `/pods/arrays` (there is no `/pods/members`).
  ['GET /pods/arrays', list((m, _array, q) => selectPodArrays(m, q))],
  ['POST /pods/arrays', items(stretchPod)],
  ['DELETE /pods/arrays', none((m, _array, q) => unstretchPod(m, q))],
]);

/** The body of a 2xx answer to `req` on `array`; throws ArrayError for a 4xx. */
export function route(m: ArrayModel, array: string, req: ArrayRequest): unknown {
  const handler = ROUTES.get(`${req.method} ${req.path}`);
  if (!handler) {
    throw new ArrayError(404, `The requested resource '${req.method} ${req.path}' was not found.`, req.path);
  }
  return handler(m, array, req.query, (req.body ?? {}) as Body);
}
