import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { embeddedMetrics, outcomeMetrics } from '#shared/composition/metrics.ts';
import { startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { startServicesThread } from '#stand-ins/services-thread.ts';
import {
  type BackfillSnapshot,
  handledUsers,
  type LocalBackfillRun,
  runSummary,
} from './backfill/run.ts';
import { seedSyncedTenant, verifySeededTenant } from './backfill/seeded-tenant.ts';
import { startLocalBackfillStack } from './backfill/stack.ts';

const USAGE = `npm run backfill:local -- [--users N] [--changed SHARE] [--crm-rate R] [--auth0-writes L] [--workers W]

Runs the whole backfill (export job, enqueue, workers) against a local Auth0 Management API
seeded with N users synced yesterday, the demo CRM and dynalite, then prints the summary.

  --users N          users in the tenant (default 1000; e.g. 100000)
  --changed SHARE    share of users whose CRM data changed since (default 0.05)
  --crm-rate R       CRM calls per second (default 200)
  --auth0-writes L   Management API writes per second: the stand-in's limit and the writer's (default 16)
  --workers W        concurrent workers (default 8)`;

interface Flags {
  users: number;
  changed: number;
  crmRate: number;
  auth0Writes: number;
  workers: number;
}

function parseFlags(argv: readonly string[]): Flags {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      users: { type: 'string', default: '1000' },
      changed: { type: 'string', default: '0.05' },
      'crm-rate': { type: 'string', default: '200' },
      'auth0-writes': { type: 'string', default: '16' },
      workers: { type: 'string', default: '8' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const number = (name: string, text: string, ok: (n: number) => boolean) => {
    const value = Number(text.replaceAll('_', '').replaceAll(',', ''));
    if (!Number.isFinite(value) || !ok(value)) throw new Error(`--${name}: ${text} is not valid`);
    return value;
  };
  return {
    users: number('users', values.users, (n) => Number.isInteger(n) && n >= 1 && n <= 9_999_999),
    changed: number('changed', values.changed, (n) => n >= 0 && n <= 1),
    crmRate: number('crm-rate', values['crm-rate'], (n) => n > 0),
    auth0Writes: number('auth0-writes', values['auth0-writes'], (n) => n > 0),
    workers: number('workers', values.workers, (n) => Number.isInteger(n) && n >= 1),
  };
}

/** Progress on stderr: a bar redrawn with `\r` on a terminal, else a line every ~10%. */
function progressReporter(total: number, stream: NodeJS.WriteStream = process.stderr) {
  const started = performance.now();
  let lastDraw = 0;
  let lastTenth = -1;
  const tty = stream.isTTY === true;
  const line = (s: BackfillSnapshot) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = s.counts.checked / Math.max(seconds, 0.001);
    const share = Math.min(1, s.handled / total);
    const left = rate > 0 ? (total - s.handled) / rate : Number.NaN;
    return `${(share * 100).toFixed(0).padStart(3)}% ${s.handled.toLocaleString('en-US')}/${total.toLocaleString('en-US')} users · ${rate.toFixed(0)} checked/s · changed ${s.counts.changed.toLocaleString('en-US')} · retries ${s.retries}${Number.isFinite(left) ? ` · ${duration(left)} left` : ''}`;
  };
  return {
    update(s: BackfillSnapshot) {
      if (tty) {
        const now = performance.now();
        if (now - lastDraw < 100 && s.handled < total) return;
        lastDraw = now;
        const share = Math.min(1, s.handled / total);
        const filled = Math.round(share * 30);
        stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${line(s)}\u001b[K`);
        return;
      }
      const tenth = Math.floor((Math.min(1, s.handled / total) * 100) / 10);
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      stream.write(`backfill ${line(s)}\n`);
    },
    done() {
      if (tty) stream.write('\n');
    },
  };
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** The bound a run can reach: the CRM rate, or the write budget spread over the changed share. */
function throughputBound(crmRate: number, auth0Writes: number, changed: number): number {
  return Math.min(crmRate, changed > 0 ? auth0Writes / changed : Number.POSITIVE_INFINITY);
}

function logSummary(logger: Logger, run: LocalBackfillRun): void {
  const { counts } = run;
  logger.info('backfill run', {
    ...runSummary(run),
    ...embeddedMetrics(
      {},
      {
        ...outcomeMetrics(counts),
        BackfillRunDuration: { value: Math.round(run.seconds * 1000), unit: 'Milliseconds' },
      },
    ),
  });
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const services = await startServicesThread();
  const dynamodb = services.client();
  const api = await startManagementApi();
  const logger = new Logger({
    serviceName: 'crm-sync-backfill',
    logLevel: (process.env.LOG_LEVEL ?? 'INFO') as 'INFO',
  });
  const stack = await startLocalBackfillStack({
    api,
    crm: services.crm,
    dynamodb,
    crmRatePerSecond: flags.crmRate,
    auth0WritesPerSecond: flags.auth0Writes,
    logger,
  });
  try {
    const seeded = seedSyncedTenant(api, {
      users: flags.users,
      changedShare: flags.changed,
      namespace: stack.namespace,
      timeZone: stack.config.timeZone,
    });
    api.setRateLimit(flags.auth0Writes);
    const bound = throughputBound(flags.crmRate, flags.auth0Writes, flags.changed);
    out(
      `backfill:local — ${flags.users.toLocaleString('en-US')} users (${seeded.changed.toLocaleString('en-US')} with changed CRM data), CRM ${flags.crmRate}/s, Auth0 writes ${flags.auth0Writes}/s, ${flags.workers} workers; bound ${bound.toFixed(0)} users/s`,
    );
    const location = await stack.exportTenant();
    const progress = progressReporter(flags.users);
    // Ctrl-C stops the run between batches and still prints what it did; a second one quits.
    const interrupt = new AbortController();
    process.once('SIGINT', () => {
      process.stderr.write('\ninterrupted: finishing the batches in hand (Ctrl-C again quits)\n');
      interrupt.abort();
      process.once('SIGINT', () => process.exit(130));
    });
    const run = await stack.run({
      location,
      workers: flags.workers,
      onProgress: (s) => progress.update(s),
      signal: interrupt.signal,
    });
    progress.done();

    const { counts, progress: enqueue } = run;
    const handled = handledUsers(run);
    const verified = verifySeededTenant(api, stack.namespace);
    out(
      [
        `checked ${counts.checked.toLocaleString('en-US')} users in ${run.seconds.toFixed(1)} s: ${run.usersPerSecond.toFixed(0)} users/s (${((run.usersPerSecond / bound) * 100).toFixed(0)}% of the bound ${bound.toFixed(0)})`,
        `  changed ${counts.changed} · unchanged ${counts.unchanged} · not found ${counts.notFound} · failed ${counts.failed} · settled today ${enqueue.settledToday} · fresh ${enqueue.freshInProfile} · no match key ${enqueue.skipped + counts.skipped}`,
        `  Auth0 user writes ${api.userWrites} · CRM calls ${stack.crmCalls()} · retries ${run.retries} · dead-lettered ${run.deadLettered}`,
        run.interrupted
          ? `  interrupted: ${(flags.users - handled).toLocaleString('en-US')} users not handled yet (the next run skips those today's stamps settle) · profiles matching the CRM: ${verified.matching.toLocaleString('en-US')}/${flags.users.toLocaleString('en-US')}`
          : `  users lost: ${flags.users - handled} · profiles matching the CRM: ${verified.matching.toLocaleString('en-US')}/${flags.users.toLocaleString('en-US')}`,
      ].join('\n'),
    );
    logSummary(logger, run);
    if (run.interrupted) process.exitCode = 130;
  } finally {
    await stack.close();
    await api.close();
    dynamodb.destroy();
    await services.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`backfill:local failed: ${(error as Error).message}\n`);
  process.exit(1);
});
