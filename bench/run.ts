import { benchAction } from './action.ts';
import { benchBackfill } from './backfill.ts';
import { benchColdStart } from './cold-start.ts';
import { benchCrmEvents } from './crm-events.ts';
import { benchHostileCrm } from './hostile-crm.ts';
import { benchLoginWrites } from './login-writes.ts';
import { benchNamedCrms } from './named-crms.ts';
import { benchSlowTenant } from './slow-tenant.ts';
import { seconds } from './stats.ts';
import { benchSyncHandler } from './sync-handler.ts';

/**
 * `npm run bench`: prints figures; nothing here asserts on time.
 * `--quick` for a smoke run, `--only=sync,hostile,crms,action,writes,cold,backfill,events,tenant` to pick sections,
 * `--backfill-users=100000` for the backfill's size (default 20,000; 2,000 with --quick).
 */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const wanted = (name: string) => only === undefined || only.split(',').includes(name);
  const started = performance.now();
  // Progress goes to stderr as each section starts and ends; the report stays whole on stdout.
  const section = async (name: string, run: () => Promise<string[]>): Promise<string[]> => {
    const at = () => `[bench ${seconds(performance.now() - started).padStart(7)}]`;
    const begun = performance.now();
    process.stderr.write(`${at()} ${name}: started\n`);
    try {
      const report = await run();
      process.stderr.write(`${at()} ${name}: done in ${seconds(performance.now() - begun)}\n`);
      return report;
    } catch (error) {
      process.stderr.write(`${at()} ${name}: failed after ${seconds(performance.now() - begun)}\n`);
      throw error;
    }
  };
  const lines = [
    `auth0-crm-sync benchmarks — ${new Date().toISOString()} — Node ${process.version}, ${process.arch}`,
  ];
  if (wanted('sync')) {
    lines.push('', ...(await section('sync', () => benchSyncHandler(quick ? 200 : 3_000))));
  }
  if (wanted('hostile')) {
    lines.push('', ...(await section('hostile', () => benchHostileCrm(quick))));
  }
  if (wanted('crms')) {
    lines.push('', ...(await section('crms', () => benchNamedCrms(quick ? 200 : 2_000))));
  }
  if (wanted('action')) {
    lines.push('', ...(await section('action', () => benchAction(quick ? 100 : 500))));
  }
  if (wanted('writes')) {
    lines.push('', ...(await section('writes', () => benchLoginWrites(quick ? 50 : 250))));
  }
  if (wanted('backfill')) {
    const size = Number(process.argv.find((a) => a.startsWith('--backfill-users='))?.slice(17));
    const users = size > 0 ? size : quick ? 2_000 : 20_000;
    lines.push('', ...(await section('backfill', () => benchBackfill(users))));
  }
  if (wanted('events')) {
    lines.push('', ...(await section('events', () => benchCrmEvents(quick ? 100 : 1_000))));
  }
  if (wanted('tenant')) {
    lines.push('', ...(await section('tenant', () => benchSlowTenant(quick ? 250 : 1_000))));
  }
  if (wanted('cold')) {
    lines.push('', ...(await section('cold', () => benchColdStart(quick ? 3 : 15))));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
