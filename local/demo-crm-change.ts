import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadLocalPort } from '#shared/config.ts';
import { normalisePhoneNumber } from '#shared/domain/phone.ts';
import { sign } from '#shared/domain/signature.ts';
import { DEMO_CRM_API_KEY } from '#stand-ins/demo-crm.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { DEFAULT_DATA_DIR, DEMO_CRM_URL_FILE, localWebhookSecret } from './dev-secret.ts';

/**
 * `npm run demo:crm-change -- '+1 555 010 0001' name="Ada King"`: what a CRM does when a contact
 * changes, against the running `npm start`. The demo CRM changes the contact, then the change
 * event goes to POST /v1/crm-events, signed with the stack's CRM_WEBHOOK_SECRET as a CRM's
 * webhook would. The next `npm run demo:login` shows the new claim, the same sync day.
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const typed = args.find((a) => !a.includes('=')) ?? ADA_LOVELACE.phone;
  // As a person types it ('+1 555 010 0001'); the demo CRM holds numbers in E.164.
  const parsed = normalisePhoneNumber(typed);
  if (!parsed.ok)
    throw new Error("the first argument must be a phone number, e.g. '+1 555 010 0001'");
  const phone = parsed.e164;
  const changes = Object.fromEntries(
    args
      .filter((a) => a.includes('='))
      .map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]),
  );
  if (Object.keys(changes).length === 0) {
    throw new Error(
      `name the fields to change, e.g. npm run demo:crm-change -- '+1 555 010 0001' name="Ada King"`,
    );
  }
  const env = process.env;
  const dataDir = resolve(env.LOCAL_DATA_DIR ?? DEFAULT_DATA_DIR);
  const changeUrlFile = join(dataDir, DEMO_CRM_URL_FILE);
  if (!existsSync(changeUrlFile)) {
    throw new Error(
      `no ${changeUrlFile}: start the local stack first (npm start), with the demo CRM (no CRM_URL)`,
    );
  }
  const changeUrl = readFileSync(changeUrlFile, 'utf8').trim();
  const changed = await post(changeUrl, JSON.stringify({ phone_number: phone, changes }), {
    'x-api-key': env.CRM_API_KEY ?? DEMO_CRM_API_KEY,
  });
  if (changed.status !== 200) {
    throw new Error(`the demo CRM has no contact with that phone number (HTTP ${changed.status})`);
  }
  const crmId = (changed.body as { crm_id: string }).crm_id;
  process.stdout.write(`Demo CRM: contact ${crmId} changed (${Object.keys(changes).join(', ')})\n`);

  const port = loadLocalPort(env);
  const url = `http://127.0.0.1:${port}/v1/crm-events`;
  const event = {
    id: `demo-${randomUUID()}`,
    type: 'contact.updated',
    crm_id: crmId,
    phone_number: phone,
  };
  const body = JSON.stringify({ events: [event] });
  const secret = localWebhookSecret(env, dataDir).split(',')[0] ?? '';
  const answer = await post(url, body, {
    'x-crm-signature': sign(secret, Math.floor(Date.now() / 1000), body),
  });
  process.stdout.write(
    `POST ${url} (event ${event.id}): HTTP ${answer.status} ${JSON.stringify(answer.body)}\n`,
  );
  if (answer.status !== 202) process.exitCode = 1;
  else process.stdout.write(`Now: npm run demo:login, with the same number\n`);
}

async function post(url: string, body: string, headers: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  }).catch((error: Error) => {
    const cause = (error.cause as { code?: string } | undefined)?.code ?? error.message;
    throw new Error(`no answer from ${url} (${cause}): is npm start running, on this PORT?`);
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

main().catch((error: unknown) => {
  process.stderr.write(`demo:crm-change failed: ${(error as Error).message}\n`);
  process.exit(1);
});
