import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { lambdaBundleOptions } from '#infra/bundling.ts';
import { sign } from '#shared/domain/signature.ts';
import { httpApiEvent } from '#stand-ins/api-gateway-events.ts';
import { generatedPhone } from '#stand-ins/demo-data.ts';
import { startSecretsManagerServer } from '#stand-ins/secrets-manager-server.ts';
import { startServicesThread } from '#stand-ins/services-thread.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { COLD_START_BASELINE_COMMIT, type ColdBundles } from './cold-bundles.ts';
import { cpuTimeByPackage } from './cold-profile.ts';
import { summarise } from './stats.ts';
import { startTlsFronts, type TlsFronts } from './tls-front.ts';

const TABLE = 'bench-cold-stamps';
const SIGNING_SECRET = 'bench-cold-signing-secret';
const SIGNING_ARN = 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:bench-signing';
const CRM_KEY_ARN = 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:bench-crm';

/**
 * What Lambda's Node runtime does for a new instance, as one process: import the bundle (its
 * init), then invoke the handler once. The child reports its time origin (its start) to the
 * answer, and its import and first request; the parent times spawn to exit. The runtime's own
 * client has loaded node:http (with require) before it imports the handler
 * (aws-lambda-nodejs-runtime-interface-client, src/client/rapid-client.ts), so the runner does too.
 */
const RUNNER = `
process.getBuiltinModule('node:http');
const t0 = performance.now();
const { handler } = await import(process.argv[2]);
const t1 = performance.now();
const invokedAtUs = Number(process.hrtime.bigint() / 1000n);
const event = JSON.parse(process.argv[3]);
const context = {
  functionName: 'crm-sync-bench', functionVersion: '$LATEST', memoryLimitInMB: '512',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:crm-sync-bench',
  awsRequestId: '8f5c2a4e-0000-4000-8000-000000000000', logGroupName: '/aws/lambda/crm-sync-bench',
  logStreamName: 'bench', callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 10000,
};
const result = await handler(event, context);
const t2 = performance.now();
process.stdout.write('\\n' + JSON.stringify({ answeredMs: t2, invokedAtUs, importMs: t1 - t0, firstMs: t2 - t1, status: result.statusCode }));
process.exit(0);
`;

export interface Run {
  /** Spawn to exit, as the parent sees it: adds the OS's process creation and teardown. */
  readonly wallMs: number;
  /** The child's time origin (its start) to the first answer: Node's bootstrap, init, request. */
  readonly answeredMs: number;
  readonly importMs: number;
  readonly firstMs: number;
  /** When the handler was invoked, in microseconds of `process.hrtime`. */
  readonly invokedAtUs: number;
}

export type Transport = 'HTTP' | 'HTTPS';

/**
 * Load + first signed POST /v1/sync of the sync bundle, as a whole process, against a one-line
 * handler bundled and invoked the same way; before (the baseline commit) and after (this tree),
 * alternating, `runs` each. Each request is a new user, so it does all a first login does: both
 * secrets read by ARN from a local Secrets Manager, the stamp read and leased in dynalite, the
 * CRM asked, the stamp written. Twice: over plain HTTP (the measurement issue 12 set its goal
 * in), and over loopback HTTPS (tls-front.ts), which adds what deployed calls pay in CPU for
 * TLS, though not the network's round trips, DNS or real certificate chains.
 */
export async function benchColdRequest(
  bundles: ColdBundles,
  dir: string,
  runs: number,
): Promise<string[]> {
  const services = await startColdServices(dir);
  try {
    const contenders: Record<string, string> = {
      'one-line handler': bundles.oneLiner,
      ...(bundles.before ? { before: bundles.before['functions/sync/handler.ts'] } : {}),
      after: bundles.after['functions/sync/handler.ts'],
    };
    const results = await measureColdRequests(services, contenders, runs);
    const lines = [
      `## Sync Lambda cold start: a new process loads the bundle and answers one signed POST /v1/sync (p50 of ${runs}, alternating)`,
      ...coldReport(results, 'HTTP', 'over plain HTTP (the stand-ins as they are)'),
      ...coldReport(
        results,
        'HTTPS',
        'over loopback HTTPS, as deployed talks (a TLS handshake per service: its CPU, no network time)',
      ),
    ];
    if (!bundles.before) {
      lines.push(
        `  before (${COLD_START_BASELINE_COMMIT}): not measured, ${bundles.beforeMissing}`,
      );
    }
    return [...lines, ...(await profileOnce(dir, services.runner, services.envs.HTTP))];
  } finally {
    await services.close();
  }
}

export interface ColdServices {
  /** The script that plays Lambda's runtime in each measured process. */
  readonly runner: string;
  /** The sync function's environment, its services reached over each transport. */
  readonly envs: Readonly<Record<Transport, Record<string, string>>>;
  close(): Promise<void>;
}

/** dynalite and the demo CRM (a worker thread), Secrets Manager, and TLS fronts for them. */
export async function startColdServices(dir: string): Promise<ColdServices> {
  const services = await startServicesThread();
  const secrets = await startSecretsManagerServer({
    [SIGNING_ARN]: SIGNING_SECRET,
    [CRM_KEY_ARN]: services.crm.apiKey,
  });
  let tls: TlsFronts | undefined;
  const close = async () => {
    await tls?.close();
    await secrets.close();
    await services.close();
  };
  try {
    tls = await startTlsFronts(dir);
    await ensureStampTable(services.client(), TABLE);
    const runner = join(dir, 'runner.mjs');
    writeFileSync(runner, RUNNER);
    const plain = {
      CRM_URL: services.crm.url,
      AWS_ENDPOINT_URL_DYNAMODB: services.dynamodbEndpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    };
    const envs: Record<Transport, Record<string, string>> = {
      HTTP: lambdaEnvironment(plain),
      HTTPS: lambdaEnvironment({
        CRM_URL: await tls.front(plain.CRM_URL),
        AWS_ENDPOINT_URL_DYNAMODB: await tls.front(plain.AWS_ENDPOINT_URL_DYNAMODB),
        AWS_ENDPOINT_URL_SECRETS_MANAGER: await tls.front(plain.AWS_ENDPOINT_URL_SECRETS_MANAGER),
        NODE_EXTRA_CA_CERTS: tls.caFile,
      }),
    };
    return { runner, envs, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * `runs` cold requests of each contender (name → bundle file) over each transport, keyed
 * "<transport> <name>". A first round warms the services (dynalite, the servers, the TLS
 * fronts) and the file cache, and is not counted; the contenders' order turns each round, so
 * none always runs first or right after another.
 */
export async function measureColdRequests(
  services: ColdServices,
  contenders: Readonly<Record<string, string>>,
  runs: number,
  transports: readonly Transport[] = ['HTTP', 'HTTPS'],
): Promise<Map<string, Run[]>> {
  const results = new Map<string, Run[]>();
  const names = Object.keys(contenders);
  let user = 0;
  for (let i = -1; i < runs; i++) {
    const shift = Math.max(i, 0) % names.length;
    const order = [...names.slice(shift), ...names.slice(0, shift)];
    for (const transport of transports) {
      for (const name of order) {
        const file = contenders[name] as string;
        const run = await runOnce(services.runner, file, services.envs[transport], ++user);
        const key = `${transport} ${name}`;
        if (i >= 0) results.set(key, [...(results.get(key) ?? []), run]);
      }
    }
  }
  return results;
}

/** The sync function's environment as deployed, with `where` pointing at this machine's services. */
function lambdaEnvironment(where: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    // What Lambda sets for every function (its runtime's reserved variables)…
    AWS_REGION: 'eu-west-1',
    AWS_DEFAULT_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'ASIABENCH',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_SESSION_TOKEN: 'bench-session',
    AWS_LAMBDA_FUNCTION_NAME: 'crm-sync-bench',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    AWS_LAMBDA_LOG_FORMAT: 'JSON',
    TZ: ':UTC',
    // …what the stack sets for the sync function (service-function.ts, sync-api.ts)…
    POWERTOOLS_SERVICE_NAME: 'crm-sync',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    METRICS_NAMESPACE: 'crm-sync-bench',
    TABLE_NAME: TABLE,
    SYNC_SIGNING_SECRET_ARN: SIGNING_ARN,
    CRM_API_KEY_SECRET_ARN: CRM_KEY_ARN,
    // …and where the services are.
    ...where,
  };
}

async function runOnce(
  runner: string,
  bundleFile: string,
  env: Record<string, string>,
  user: number,
  nodeOptions: readonly string[] = [],
): Promise<Run> {
  const body = JSON.stringify({
    user_id: `sms|cold-${process.pid}-${user}`,
    phone_number: generatedPhone(700_000 + user),
  });
  const event = httpApiEvent({
    method: 'POST',
    target: '/v1/sync',
    headers: {
      'content-type': 'application/json',
      'x-sync-signature': sign(SIGNING_SECRET, Math.floor(Date.now() / 1000), body),
    },
    body,
  });
  const started = performance.now();
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [...nodeOptions, runner, bundleFile, JSON.stringify(event)],
      { env, cwd: process.cwd() },
      (error, out) => (error ? reject(error) : resolve(out)),
    );
  });
  const wallMs = performance.now() - started;
  // The request's own log line goes to stdout too: the runner's figures are the last line.
  const last = stdout.trimEnd().split('\n').at(-1) ?? '';
  const child = JSON.parse(last) as Omit<Run, 'wallMs'> & { status: number };
  if (child.status !== 200) throw new Error(`cold request answered ${child.status}`);
  return { wallMs, ...child };
}

/** One line per contender measured over `transport`, its ratio to the one-line handler's. */
export function coldReport(
  results: Map<string, Run[]>,
  transport: Transport,
  title: string,
): string[] {
  const p50 = (list: readonly Run[], field: keyof Run) => summarise(list.map((r) => r[field])).p50;
  const of = (name: string) => results.get(`${transport} ${name}`) ?? [];
  const base = of('one-line handler');
  const [answeredBase, wallBase] = [p50(base, 'answeredMs'), p50(base, 'wallMs')];
  const f = (n: number) => n.toFixed(1).padStart(6);
  const lines = [`  ${title}:`];
  const prefix = `${transport} `;
  const names = [...results.keys()]
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  for (const name of names) {
    const list = of(name);
    lines.push(
      `    ${name.padEnd(17)} start to answer ${f(p50(list, 'answeredMs'))} ms (import ${f(p50(list, 'importMs'))}, first request ${f(p50(list, 'firstMs'))})  ratio ${(p50(list, 'answeredMs') / answeredBase).toFixed(2)}   spawn to exit ${f(p50(list, 'wallMs'))} ms, ratio ${(p50(list, 'wallMs') / wallBase).toFixed(2)}`,
    );
  }
  return lines;
}

/**
 * One cold request (plain HTTP) of this tree's sync bundle, not minified and with a source map,
 * under `node --cpu-prof`: its CPU time by package, in the init and in the first request.
 */
async function profileOnce(dir: string, runner: string, env: Record<string, string>) {
  const outfile = join(dir, 'profiled.mjs');
  await build({
    ...lambdaBundleOptions,
    minify: false,
    sourcemap: 'external',
    entryPoints: [join(process.cwd(), 'functions/sync/handler.ts')],
    outfile,
    logLevel: 'error',
  });
  const profiles = join(dir, 'profiles');
  const run = await runOnce(runner, outfile, env, 0, [
    '--cpu-prof',
    `--cpu-prof-dir=${profiles}`,
    '--cpu-prof-interval=100',
  ]);
  const byPackage = cpuTimeByPackage(profiles, outfile, run.invokedAtUs);
  const totals = [...byPackage].sort((a, b) => b[1].init + b[1].request - a[1].init - a[1].request);
  const f = (n: number) => n.toFixed(1).padStart(7);
  return [
    `  CPU profile of one cold request over HTTP (not minified; slower when profiled: start to answer ${run.answeredMs.toFixed(1)} ms), by package:`,
    `    ${'package'.padEnd(58)}    init   first request`,
    ...totals
      .filter(([, t]) => t.init + t.request >= 0.5)
      .map(([name, t]) => `    ${name.padEnd(58)} ${f(t.init)} ms ${f(t.request)} ms`),
  ];
}
