import type { BackfillCounts } from '#shared/domain/backfill.ts';

type MetricValue = { value: number; unit: 'Count' | 'Milliseconds' | 'Count/Second' };

/** The per-user outcomes as metrics: the same names for a worker batch and a local run. */
export function outcomeMetrics(counts: BackfillCounts): Record<string, MetricValue> {
  return {
    BackfillChecked: { value: counts.checked, unit: 'Count' },
    BackfillChanged: { value: counts.changed, unit: 'Count' },
    BackfillUnchanged: { value: counts.unchanged, unit: 'Count' },
    BackfillNotFound: { value: counts.notFound, unit: 'Count' },
    BackfillSkipped: { value: counts.skipped, unit: 'Count' },
    BackfillFailed: { value: counts.failed, unit: 'Count' },
  };
}
