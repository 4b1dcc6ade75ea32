import { DEFAULT_LOCAL_PORT, loadLocalPort, loadSyncServiceConfig } from '#shared/config.ts';
import { loadCrmEventsConfig } from '#shared/crm-events-config.ts';
import { ADA_LOVELACE, typedPhone } from '#stand-ins/demo-data.ts';
import { demoCrmSettings } from './demo-crms.ts';
import { LOCAL_TABLE_NAME, startLocalStack } from './stack.ts';

/** `npm start`: the sync handler on 127.0.0.1 with embedded DynamoDB and a demo CRM. */
async function main(): Promise<void> {
  const env = process.env;
  checkSettings(env);
  const stack = await startLocalStack(env);
  const { url, config } = stack;
  const example = JSON.stringify({
    user_id: 'sms|demo',
    phone_number: typedPhone(ADA_LOVELACE.phone),
  });
  process.stdout.write(
    [
      '',
      `auth0-crm-sync local stack listening on ${url}`,
      `  POST ${url}/v1/sync   GET ${url}/v1/users/{user_id}   GET ${url}/v1/health`,
      `  POST ${url}/v1/crm-events (the CRM's change events, X-Crm-Signature)`,
      // A secret the operator chose is theirs to know; only the generated one is shown.
      env.SYNC_SIGNING_SECRET
        ? '  signing secret: from SYNC_SIGNING_SECRET (not shown)'
        : `  signing secret: ${stack.secret} (development secret, kept in ${stack.dataDir})`,
      `  CRM: ${config.crm.kind} (CRM_KIND), ${stack.demoCrmUrl ? `embedded ${stack.demoCrmLabel} at ${stack.demoCrmUrl}` : `at ${config.crm.url}`}`,
      `  DynamoDB: embedded (dynalite), ${stack.dynamoPath ? `data in ${stack.dynamoPath}` : 'in memory: the data folder is in use by another local stack'}`,
      `  sync day: ${config.timeZone}; claims under ${config.mapping.namespace}`,
      '',
      'Send a signed request (prints a curl line; add --send to send it):',
      `  ${localCommand('npm run -s sign', env, stack.dataDir, url)} -- '${example}'`,
      'Or run the Auth0 Action against it:',
      `  ${localCommand('npm run demo:login', env, stack.dataDir, url)} -- '+1 555 010 0001'`,
      // Only with the generic demo CRM: it is the one that can change a contact.
      ...(stack.demoCrm
        ? [
            'Change a contact as a CRM would, and send its signed event:',
            `  ${localCommand('npm run demo:crm-change', env, stack.dataDir, url, { dataFolder: true })} -- '+1 555 010 0001' name="Ada King"`,
          ]
        : []),
      '',
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await stack.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/**
 * Every setting is checked before anything starts: a bad one used to stop the start half-way,
 * with the data folder made and dynalite's table perhaps left CREATING. What the stack supplies
 * itself (table, generated secret, demo CRM) has a stand-in value here.
 */
function checkSettings(env: NodeJS.ProcessEnv): void {
  loadLocalPort(env);
  loadSyncServiceConfig({
    ...env,
    TABLE_NAME: LOCAL_TABLE_NAME,
    SYNC_SIGNING_SECRET: env.SYNC_SIGNING_SECRET || 'dev-generated-on-first-start',
    ...demoCrmSettings(env),
  });
  loadCrmEventsConfig({
    ...env,
    TABLE_NAME: LOCAL_TABLE_NAME,
    CRM_WEBHOOK_SECRET: env.CRM_WEBHOOK_SECRET || 'dev-generated-on-first-start',
    MATCH_KEY_HASH_SECRET: env.MATCH_KEY_HASH_SECRET || 'dev-generated-on-first-start',
  });
}

/**
 * An npm script (`sign`, `demo:login`, `demo:crm-change`) with what it needs to reach this stack
 * from another shell: its PORT, and its data folder when the script reads it. `sign` and
 * `demo:login` read only the generated signing secret there; `demo:crm-change` always reads
 * the demo CRM's address (and the generated webhook secret) there (`dataFolder`).
 */
function localCommand(
  script: string,
  env: NodeJS.ProcessEnv,
  dataDir: string,
  url: string,
  options: { readonly dataFolder?: boolean } = {},
): string {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const port = Number(new URL(url).port);
  const needsFolder = options.dataFolder || !env.SYNC_SIGNING_SECRET;
  return [
    ...(port === DEFAULT_LOCAL_PORT ? [] : [`PORT=${port}`]),
    ...(env.LOCAL_DATA_DIR && needsFolder ? [`LOCAL_DATA_DIR=${quote(dataDir)}`] : []),
    script,
  ].join(' ');
}

main().catch((error: unknown) => {
  process.stderr.write(`local stack failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
