import { sign } from '#shared/domain/signature.ts';

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** A signed POST to the local stack: X-Sync-Signature for /v1/sync, X-Crm-Signature for events. */
export async function signedPost(
  url: string,
  secret: string,
  body: unknown,
  options: {
    readonly header?: 'x-sync-signature' | 'x-crm-signature';
    readonly timestamp?: number;
    readonly contentType?: string;
    readonly rawBody?: string;
  } = {},
): Promise<Answer> {
  const text = options.rawBody ?? JSON.stringify(body);
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': options.contentType ?? 'application/json',
      [options.header ?? 'x-sync-signature']: sign(secret, timestamp, text),
    },
    body: text,
  });
  const answer = await response.text();
  return { status: response.status, body: answer ? JSON.parse(answer) : {} };
}

/** POST /v1/crm-events of `events`, signed with the webhook secret. */
export function postEvents(
  baseUrl: string,
  webhookSecret: string,
  events: readonly Record<string, unknown>[],
  options: Parameters<typeof signedPost>[3] = {},
): Promise<Answer> {
  return signedPost(
    `${baseUrl}/v1/crm-events`,
    webhookSecret,
    { events },
    {
      header: 'x-crm-signature',
      ...options,
    },
  );
}
