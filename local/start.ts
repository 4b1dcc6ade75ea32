import { startLocalStack } from './stack.ts';

/** `npm start`: the sync handler on 127.0.0.1 with embedded DynamoDB and a demo CRM. */
async function main(): Promise<void> {
  const env = process.env;
  const stack = await startLocalStack(env);
  const { url, config } = stack;
  const example = '{"user_id":"sms|demo","phone_number":"+1 555 010 0001"}';
  process.stdout.write(
    [
      '',
      `auth0-crm-sync local stack listening on ${url}`,
      `  POST ${url}/v1/sync   GET ${url}/v1/health`,
      // A secret the operator chose is theirs to know; only the generated one is shown.
      env.SYNC_SIGNING_SECRET
        ? '  signing secret: from SYNC_SIGNING_SECRET (not shown)'
        : `  signing secret: ${stack.secret} (development secret, kept in ${stack.dataDir})`,
      `  CRM: ${stack.demoCrmUrl ? `embedded demo CRM at ${stack.demoCrmUrl}` : 'CRM_URL'}`,
      `  DynamoDB: embedded (dynalite), ${stack.dynamoPath ? `data in ${stack.dynamoPath}` : 'in memory: the data folder is in use by another local stack'}`,
      `  sync day: ${config.timeZone}; claims under ${config.mapping.namespace}`,
      '',
      'Send a signed request (prints a curl line; add --send to send it):',
      `  npm run -s sign -- '${example}'`,
      "Or run the Auth0 Action against it: npm run demo:login -- '+1 555 010 0001'",
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

main().catch((error: unknown) => {
  process.stderr.write(`local stack failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
