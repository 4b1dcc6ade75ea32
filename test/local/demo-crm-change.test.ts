import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '#local/stack.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';

/**
 * The README's demo of CRM change events, as a person runs it beside `npm start`:
 * `npm run demo:login`, `npm run demo:crm-change -- <phone> name="…"`, `npm run demo:login`.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'crm-sync-change-demo-'));
let stack: LocalStack;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  stack = await startLocalStack({ LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'ERROR' }, { port: 0 });
  const port = new URL(stack.url).port;
  env = { ...process.env, LOCAL_DATA_DIR: dataDir, PORT: port, SYNC_API_URL: '' };
});
afterAll(async () => {
  await stack?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const run = async (script: string, ...args: string[]) =>
  (await promisify(execFile)(process.execPath, ['--import', 'tsx', script, ...args], { env }))
    .stdout;

describe('npm run demo:crm-change', () => {
  it('changes the contact in the demo CRM and the next demo:login shows it, the same day', async () => {
    const before = await run('local/demo-login.ts', ADA_LOVELACE.phone);
    expect(before).toContain(`Sync API: ${stack.url}/v1/sync\n`);
    expect(before).toContain(`"https://crm.example.com/name": "${ADA_LOVELACE.name}"`);

    const change = await run('local/demo-crm-change.ts', ADA_LOVELACE.phone, 'name=Ada King');
    expect(change).toContain(`contact ${ADA_LOVELACE.id} changed (name)`);
    expect(change).toMatch(/HTTP 202 \{"accepted":1,"duplicates":0,"ignored":0\}/);

    const after = await run('local/demo-login.ts', ADA_LOVELACE.phone);
    expect(after).toContain('"https://crm.example.com/name": "Ada King"');
    expect(after).not.toContain(ADA_LOVELACE.name);
  });
});
