import { afterEach, describe, expect, it } from 'vitest';
import { embeddedMetrics } from '#shared/composition/metrics.ts';
import { METRICS_NAMESPACE, metricsNamespace } from '#shared/names.ts';

/**
 * Two stages deployed in one account must not write to one namespace: staging's refused
 * signatures would set off production's alarms. The stack gives each function its own.
 */
describe('the metrics namespace', () => {
  const saved = process.env.METRICS_NAMESPACE;
  afterEach(() => {
    if (saved === undefined) delete process.env.METRICS_NAMESPACE;
    else process.env.METRICS_NAMESPACE = saved;
  });
  const namespaceOf = () =>
    (
      embeddedMetrics({ Outcome: 'synced' }, { Requests: { value: 1, unit: 'Count' } }) as {
        _aws: { CloudWatchMetrics: Array<{ Namespace: string }> };
      }
    )._aws.CloudWatchMetrics[0]?.Namespace;

  it("is the deployed stack's own, from METRICS_NAMESPACE", () => {
    process.env.METRICS_NAMESPACE = metricsNamespace('Auth0CrmSync-prod');
    expect(namespaceOf()).toBe('Auth0CrmSync/Auth0CrmSync-prod');
  });

  it('is the service-wide one without it (npm start, tests)', () => {
    delete process.env.METRICS_NAMESPACE;
    expect(namespaceOf()).toBe(METRICS_NAMESPACE);
  });
});
