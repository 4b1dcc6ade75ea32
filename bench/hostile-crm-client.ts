import { HttpCrm } from '#shared/adapters/http-crm.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';

/**
 * The child process of bench/hostile-crm.ts: looks one user up `N` times at `TARGET_URL`
 * and reports each lookup's time and this process's peak RSS growth, so the hostile server's
 * own buffers (in the parent) are not counted. `MODE=unbounded` reads the body whole, as the
 * adapter did before it streamed with a cap: the reference the figures are compared with.
 */
const { TARGET_URL, WARMUP_URL, N, MODE } = process.env;
const key = { kind: 'phone', e164: ADA_LOVELACE.phone } as const;
const crm = (url: string) =>
  new HttpCrm({
    url,
    apiKey: async () => 'bench-crm-key',
    timeoutMs: 2_500,
    maxResponseBytes: 1024 * 1024,
  });

async function unbounded(url: string): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
    signal: AbortSignal.timeout(60_000),
  });
  await response.text();
}

async function main(): Promise<void> {
  const warm = crm(WARMUP_URL as string);
  for (let i = 0; i < 20; i++) await warm.find(key);
  globalThis.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 1);
  const target = crm(TARGET_URL as string);
  const times: number[] = [];
  const outcomes = new Map<string, number>();
  for (let i = 0; i < Number(N); i++) {
    const started = performance.now();
    let outcome = 'answered';
    try {
      if (MODE === 'unbounded') await unbounded(TARGET_URL as string);
      else await target.find(key);
    } catch (error) {
      outcome = (error as { reason?: string }).reason ?? (error as Error).name;
    }
    times.push(performance.now() - started);
    peak = Math.max(peak, process.memoryUsage().rss);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  clearInterval(sampler);
  // Not maxRSS: it holds the loader's own peak from before the warm-up.
  process.stdout.write(
    JSON.stringify({ times, peakGrowth: peak - baseline, outcomes: Object.fromEntries(outcomes) }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
