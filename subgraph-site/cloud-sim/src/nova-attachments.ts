/** Nova volume attachments of a server: list, attach, show, detach (the Cinder volume follows). */
import { attachVolume, detachVolume, loadVolume } from './cinder-model.js';
import type { SimContext } from './context.js';
import {
  ApiError,
  type ApiRequest,
  type ApiResponse,
  atLeast,
  optionalString,
  type Route,
  requireObject,
  requireRole,
  requireString,
} from './http.js';
import { loadServer, NOVA_API_PATH, type ServerDoc, type ServerVolume, VM_STATES } from './nova-servers.js';

function attachmentView(req: ApiRequest, server: ServerDoc, v: ServerVolume): Record<string, unknown> {
  const view: Record<string, unknown> = { id: v.id, serverId: server.id, volumeId: v.id, device: v.device };
  if (atLeast(req.microversion, '2.79')) view.delete_on_termination = v.delete_on_termination;
  return view;
}

function attachServerVolume(ctx: SimContext, req: ApiRequest): ApiResponse {
  requireRole(req, 'os_compute_api:os-volumes-attachments:create', 'member');
  const server = loadServer(ctx, req, req.params.id ?? '');
  const body = requireObject(req.body, 'volumeAttachment');
  const volumeId = requireString(body, 'volumeId');
  if (!['ACTIVE', 'SHUTOFF'].includes(server.status) || server.task_state) {
    const state = server.task_state
      ? `task_state ${server.task_state}`
      : `vm_state ${VM_STATES[server.status]}`;
    throw new ApiError(409, `Cannot 'attach_volume' instance ${server.id} while it is in ${state}`);
  }
  const volume = loadVolume(ctx, volumeId);
  if (!volume || (volume.project_id !== server.project_id && !req.auth.isAdmin)) {
    throw new ApiError(404, `Volume ${volumeId} could not be found.`);
  }
  if (volume.status !== 'available') {
    throw new ApiError(
      400,
      `Invalid volume: volume '${volumeId}' status must be 'available'. Currently in '${volume.status}'`,
    );
  }
  const used = new Set(server.volumes.map((v) => v.device));
  let letter = 98;
  while (used.has(`/dev/vd${String.fromCharCode(letter)}`)) letter++;
  const attached: ServerVolume = {
    id: volumeId,
    device: optionalString(body, 'device') ?? `/dev/vd${String.fromCharCode(letter)}`,
    delete_on_termination: body.delete_on_termination === true,
    boot: false,
  };
  ctx.store.transaction(() => {
    attachVolume(ctx, volume, server.id, attached.device);
    server.volumes.push(attached);
    ctx.store.put('server', server);
  });
  return { status: 200, body: { volumeAttachment: attachmentView(req, server, attached) } };
}

function serverVolume(server: ServerDoc, volumeId: string): ServerVolume {
  const attached = server.volumes.find((v) => v.id === volumeId);
  if (!attached) throw new ApiError(404, `Volume ${volumeId} is not attached to instance ${server.id}.`);
  return attached;
}

/** The volume attachment routes under `/compute/v2.1/servers/:id/os-volume_attachments`. */
export function attachmentRoutes(ctx: SimContext): Route[] {
  const v = NOVA_API_PATH;
  return [
    {
      method: 'GET',
      path: `${v}/servers/:id/os-volume_attachments`,
      op: 'list_volume_attachments',
      handler: (req) => {
        const server = loadServer(ctx, req, req.params.id ?? '');
        return {
          status: 200,
          body: { volumeAttachments: server.volumes.map((a) => attachmentView(req, server, a)) },
        };
      },
    },
    {
      method: 'POST',
      path: `${v}/servers/:id/os-volume_attachments`,
      op: 'attach_volume',
      handler: (req) => attachServerVolume(ctx, req),
    },
    {
      method: 'GET',
      path: `${v}/servers/:id/os-volume_attachments/:volume_id`,
      op: 'show_volume_attachment',
      handler: (req) => {
        const server = loadServer(ctx, req, req.params.id ?? '');
        const attached = serverVolume(server, req.params.volume_id ?? '');
        return { status: 200, body: { volumeAttachment: attachmentView(req, server, attached) } };
      },
    },
    {
      method: 'DELETE',
      path: `${v}/servers/:id/os-volume_attachments/:volume_id`,
      op: 'detach_volume',
      handler: (req) => {
        requireRole(req, 'os_compute_api:os-volumes-attachments:delete', 'member');
        const server = loadServer(ctx, req, req.params.id ?? '');
        const attached = serverVolume(server, req.params.volume_id ?? '');
        if (attached.boot) throw new ApiError(400, 'Cannot detach a root device volume');
        ctx.store.transaction(() => {
          detachVolume(ctx, attached.id, server.id);
          server.volumes = server.volumes.filter((x) => x.id !== attached.id);
          ctx.store.put('server', server);
        });
        return { status: 202 };
      },
    },
  ];
}
