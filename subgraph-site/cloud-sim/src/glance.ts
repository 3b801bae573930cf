import { randomUUID } from 'node:crypto';
import type { SimContext } from './context.js';
import {
  ApiError,
  type ApiRequest,
  isoTimeZ,
  isRecord,
  matchesQuery,
  optionalString,
  paginate,
  type Route,
} from './http.js';

/** Images one list answers without `limit` (Glance's `limit_param_default`). */
const GLANCE_DEFAULT_LIMIT = 25;

/** A stored Glance image (metadata only). */
export interface ImageDoc {
  id: string;
  name: string;
  owner: string;
  status: string;
  visibility: string;
  disk_format: string;
  container_format: string;
  min_disk: number;
  min_ram: number;
  size: number | null;
  created: number;
  properties: Record<string, string>;
}

function imageView(i: ImageDoc): Record<string, unknown> {
  return {
    ...i.properties,
    id: i.id,
    name: i.name,
    owner: i.owner,
    status: i.status,
    visibility: i.visibility,
    protected: false,
    os_hidden: false,
    disk_format: i.disk_format,
    container_format: i.container_format,
    min_disk: i.min_disk,
    min_ram: i.min_ram,
    size: i.size,
    virtual_size: null,
    checksum: null,
    tags: [],
    created_at: isoTimeZ(i.created),
    updated_at: isoTimeZ(i.created),
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
  };
}

const visibleTo = (req: ApiRequest, i: ImageDoc): boolean =>
  req.auth.isAdmin ||
  i.visibility === 'public' ||
  i.visibility === 'community' ||
  i.owner === req.auth.projectId;

function loadImage(ctx: SimContext, req: ApiRequest): ImageDoc {
  const image = ctx.store.get<ImageDoc>('image', req.params.id ?? '');
  if (!image || !visibleTo(req, image)) throw new ApiError(404, `No image found with ID ${req.params.id}`);
  return image;
}

const IMAGE_FIELDS = new Set([
  'id',
  'name',
  'visibility',
  'disk_format',
  'container_format',
  'min_disk',
  'min_ram',
  'tags',
  'protected',
]);

/** Glance v2 under `/image`: image metadata (no image data). */
export function glanceRoutes(ctx: SimContext): Route[] {
  const versions = (baseUrl: string) => ({
    versions: [{ id: 'v2.15', status: 'CURRENT', links: [{ rel: 'self', href: `${baseUrl}/image/v2/` }] }],
  });
  return [
    {
      method: 'GET',
      path: '/',
      op: 'versions',
      public: true,
      handler: (req) => ({ status: 300, body: versions(req.baseUrl) }),
    },
    {
      method: 'GET',
      path: '/versions',
      op: 'versions',
      public: true,
      handler: (req) => ({ status: 200, body: versions(req.baseUrl) }),
    },
    {
      method: 'GET',
      path: '/v2/images',
      op: 'list_images',
      handler: (req) => {
        const { page, next } = paginate(
          req,
          ctx.store
            .list<ImageDoc>('image', (i) => visibleTo(req, i))
            .map(imageView)
            .filter((i) => matchesQuery(req.query, i, ['name', 'status', 'visibility', 'owner'])) as (Record<
            string,
            unknown
          > & { id: string })[],
          ctx.maxLimit,
          GLANCE_DEFAULT_LIMIT,
        );
        // Glance's `next` is relative to its endpoint: the path and query only.
        const nextPath = next ? `/v2/images${new URL(next).search}` : null;
        return {
          status: 200,
          body: {
            images: page,
            first: '/v2/images',
            schema: '/v2/schemas/images',
            ...(nextPath ? { next: nextPath } : {}),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/v2/images/:id',
      op: 'show_image',
      handler: (req) => ({ status: 200, body: imageView(loadImage(ctx, req)) }),
    },
    {
      method: 'POST',
      path: '/v2/images',
      op: 'create_image',
      handler: (req) => {
        const body = isRecord(req.body) ? req.body : {};
        const visibility = optionalString(body, 'visibility') ?? 'shared';
        if (visibility === 'public' && !req.auth.isAdmin) {
          throw new ApiError(403, 'You are not authorized to complete publicize_image action.');
        }
        const properties = Object.fromEntries(
          Object.entries(body)
            .filter(([key]) => !IMAGE_FIELDS.has(key))
            .map(([key, value]) => [key, String(value)]),
        );
        const image: ImageDoc = {
          id: optionalString(body, 'id') ?? randomUUID(),
          name: optionalString(body, 'name') ?? '',
          owner: req.auth.projectId ?? '',
          status: 'queued',
          visibility,
          disk_format: optionalString(body, 'disk_format') ?? 'raw',
          container_format: optionalString(body, 'container_format') ?? 'bare',
          min_disk: typeof body.min_disk === 'number' ? body.min_disk : 0,
          min_ram: typeof body.min_ram === 'number' ? body.min_ram : 0,
          size: null,
          created: ctx.now(),
          properties,
        };
        if (ctx.store.get('image', image.id))
          throw new ApiError(409, `Image with identifier ${image.id} already exists!`);
        ctx.store.put('image', image);
        return { status: 201, body: imageView(image) };
      },
    },
    {
      method: 'DELETE',
      path: '/v2/images/:id',
      op: 'delete_image',
      handler: (req) => {
        const image = loadImage(ctx, req);
        if (image.owner !== req.auth.projectId && !req.auth.isAdmin) {
          throw new ApiError(403, 'You are not permitted to delete this image.');
        }
        ctx.store.delete('image', image.id);
        return { status: 204 };
      },
    },
  ];
}
