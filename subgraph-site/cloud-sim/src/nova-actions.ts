/** Nova server actions: power on and off (`os-start`, `os-stop`) with Nova's state checks. */
import type { SimContext } from './context.js';
import { ApiError, type ApiRequest, type ApiResponse, isRecord, type Route, requireRole } from './http.js';
import {
  loadServer,
  loadServerDoc,
  NOVA_API_PATH,
  type ServerDoc,
  type ServerStatus,
  VM_STATES,
} from './nova-servers.js';

/**
 * Starts a power transition, refusing it with Nova's 409 as nova/compute/api.py does: the instance must
 * be on a host (a server whose build failed has none: "Instance <id> is not ready"), then in an allowed
 * vm_state (start: stopped; stop: active or error), with no task under way and launched once.
 */
function powerAction(ctx: SimContext, server: ServerDoc, action: 'start' | 'stop'): void {
  if (server.status === 'ERROR' && !server.launched_at) {
    throw new ApiError(409, `Instance ${server.id} is not ready`);
  }
  const allowed: ServerStatus[] = action === 'start' ? ['SHUTOFF'] : ['ACTIVE', 'ERROR'];
  let state: string | undefined;
  if (!allowed.includes(server.status)) state = `vm_state ${VM_STATES[server.status]}`;
  else if (server.task_state) state = `task_state ${server.task_state}`;
  else if (!server.launched_at) state = 'launched_at None';
  if (state) throw new ApiError(409, `Cannot '${action}' instance ${server.id} while it is in ${state}`);
  const now = ctx.now();
  server.task_state = action === 'start' ? 'powering-on' : 'powering-off';
  server.pending = { status: action === 'start' ? 'ACTIVE' : 'SHUTOFF', at: now + ctx.timing.powerTimeMs };
  server.updated = now;
  ctx.store.put('server', server);
}

function serverAction(ctx: SimContext, req: ApiRequest): ApiResponse {
  const server = loadServer(ctx, req, req.params.id ?? '');
  const [action] = isRecord(req.body) ? Object.keys(req.body) : [];
  switch (action) {
    case 'os-start':
      requireRole(req, 'os_compute_api:servers:start', 'member');
      powerAction(ctx, server, 'start');
      break;
    case 'os-stop':
      requireRole(req, 'os_compute_api:servers:stop', 'member');
      powerAction(ctx, server, 'stop');
      break;
    default:
      throw new ApiError(400, `There is no such action: ${action ?? ''}`);
  }
  loadServerDoc(ctx, server.id);
  return { status: 202 };
}

/** The server action route (`POST servers/:id/action`). */
export function actionRoutes(ctx: SimContext): Route[] {
  const v = NOVA_API_PATH;
  return [
    {
      method: 'POST',
      path: `${v}/servers/:id/action`,
      op: 'server_action',
      handler: (req) => serverAction(ctx, req),
    },
  ];
}
