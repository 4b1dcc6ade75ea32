import { type ApiRequest, error, invalid, isObject, notFound, type Reply } from './http.ts';
import { now, type Tenant, type User } from './tenant.ts';

/**
 * /api/v2/users/:id: reading a user and the PATCH the sync writes app_metadata with. As Auth0
 * does, app_metadata and user_metadata are merged one level deep (a null removes the key), an
 * empty object removes the metadata completely, and any other property is replaced (auth0/docs-v2
 * main/docs/manage-users/user-accounts/metadata/manage-metadata-api.mdx, "Merge user metadata"
 * and "App metadata": "sending this body removes everything in `app_metadata`").
 */

export function createUsers(tenant: Tenant) {
  const { users } = tenant;
  let userWrites = 0;

  function updateUser(user: User, body: unknown): Reply {
    if (!isObject(body) || Object.keys(body).length === 0) {
      return invalid('Payload validation error: Too few properties defined (0), minimum 1');
    }
    for (const key of ['app_metadata', 'user_metadata'] as const) {
      const value = body[key];
      if (value !== undefined && !isObject(value)) {
        return invalid(`Payload validation error: '${key}' must be an object`);
      }
    }
    for (const [key, value] of Object.entries(body)) {
      if ((key === 'app_metadata' || key === 'user_metadata') && isEmpty(value)) {
        user[key] = {};
      } else if (key === 'app_metadata' || key === 'user_metadata') {
        const merged: Record<string, unknown> = { ...(user[key] ?? {}) };
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          if (v === null) delete merged[k];
          else merged[k] = v;
        }
        user[key] = merged;
      } else if (key !== 'user_id') {
        if (value === null) delete user[key];
        else user[key] = value;
      }
    }
    user.updated_at = now();
    userWrites += 1;
    return { status: 200, body: structuredClone(user) };
  }

  function route({ method, segments, body }: ApiRequest): Reply | undefined {
    const [a, id, c] = segments;
    if (a !== 'users' || id === undefined || c !== undefined) return undefined;
    const user = users.get(id);
    if (!user) {
      return method === 'GET' || method === 'PATCH'
        ? error(404, 'The user does not exist.', 'inexistent_user')
        : notFound();
    }
    if (method === 'GET') return { status: 200, body: structuredClone(user) };
    if (method === 'PATCH') return updateUser(user, body);
    return notFound();
  }

  return {
    route,
    /** Successful PATCH /api/v2/users/:id. */
    get userWrites() {
      return userWrites;
    },
  };
}

function isEmpty(value: unknown): boolean {
  return isObject(value) && Object.keys(value).length === 0;
}
