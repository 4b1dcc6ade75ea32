export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
}

export function summarise(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    mean,
  };
}

export const ms = (value: number) => `${value.toFixed(3)} ms`;

/** Milliseconds as seconds, for progress lines: `12.3 s`. */
export const seconds = (valueMs: number) => `${(valueMs / 1000).toFixed(1)} s`;

export function row(label: string, s: Summary): string {
  return `${label.padEnd(42)} n=${String(s.n).padStart(5)}  p50 ${ms(s.p50).padStart(11)}  p90 ${ms(s.p90).padStart(11)}  p99 ${ms(s.p99).padStart(11)}`;
}
