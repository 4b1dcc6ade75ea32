import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';

/**
 * The wire conventions every route shares: request bodies in (JSON, or a form for the token),
 * replies out as JSON, errors in Auth0's `{ statusCode, error, message, errorCode? }` shape,
 * and the page/per_page paging of its list endpoints.
 */

export type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

/** An /api/v2 request, its path split after `/api/v2/` and each segment percent-decoded. */
export interface ApiRequest {
  method: string;
  segments: string[];
  query: Record<string, string>;
  body: unknown;
}

/** One concern's routes: its reply, or `undefined` when the path is not one of its own. */
export type Route = (request: ApiRequest) => Reply | undefined;

const MAX_PER_PAGE = 100;

export function errorBody(status: number, message?: string, errorCode?: string) {
  return {
    statusCode: status,
    error: STATUS_CODES[status] ?? 'Error',
    message: message ?? STATUS_CODES[status] ?? 'Error',
    ...(errorCode === undefined ? {} : { errorCode }),
  };
}

export function error(status: number, message: string, errorCode?: string): Reply {
  return { status, body: errorBody(status, message, errorCode) };
}

export function invalid(message: string): Reply {
  return error(400, message, 'invalid_body');
}

export function notFound(): Reply {
  return error(404, 'Not Found');
}

export function send(res: ServerResponse, reply: Reply): void {
  const headers = { ...(reply.headers ?? {}) };
  if (reply.status === 204 || reply.body === undefined) {
    res.writeHead(reply.status, headers);
    res.end();
    return;
  }
  const hasType = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
  if (!hasType) headers['content-type'] = 'application/json; charset=utf-8';
  res.writeHead(reply.status, headers);
  res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function parseBody(
  contentType: string | undefined,
  raw: string,
): { ok: true; value: unknown } | { ok: false } {
  if (raw === '') return { ok: true, value: undefined };
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    return { ok: true, value: Object.fromEntries(new URLSearchParams(raw)) };
  }
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false };
  }
}

export function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One page of a list endpoint, as `{ [key]: [...], total, page, per_page }`. */
export function listPage<T>(
  key: string,
  items: T[],
  query: Record<string, string>,
  view: (item: T) => unknown,
): Reply {
  const paging = pagingOf(query);
  if ('status' in paging) return paging;
  const start = paging.page * paging.perPage;
  return {
    status: 200,
    body: {
      [key]: items.slice(start, start + paging.perPage).map((item) => view(item)),
      total: items.length,
      page: paging.page,
      per_page: paging.perPage,
    },
  };
}

function pagingOf(query: Record<string, string>): { page: number; perPage: number } | Reply {
  const page = query.page === undefined ? 0 : Number(query.page);
  const perPage = query.per_page === undefined ? 50 : Number(query.per_page);
  if (!Number.isInteger(page) || page < 0) {
    return invalid('Query validation error: page must be an integer >= 0');
  }
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > MAX_PER_PAGE) {
    return invalid(`Query validation error: per_page must be between 1 and ${MAX_PER_PAGE}`);
  }
  return { page, perPage };
}

/** An array of objects each passing `item`, which checks that it is a T (every list in a body). */
export function isObjectList<T extends object>(
  value: unknown,
  item: (entry: Record<string, unknown>) => boolean,
): value is T[] {
  return Array.isArray(value) && value.every((entry) => isObject(entry) && item(entry));
}
