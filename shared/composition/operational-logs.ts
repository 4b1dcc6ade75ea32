import type { Logger } from '@aws-lambda-powertools/logger';
import type { CircuitEvent } from '../adapters/crm-circuit-breaker.ts';
import type { AbsorbedFault } from '../domain/sync.ts';
import { embeddedMetrics } from './metrics.ts';

/** Logs a fault the service absorbed by kind and error name only: never a value. */
export function logAbsorbedFault(logger: Logger) {
  return ({ operation, error }: AbsorbedFault) => {
    const name = error instanceof Error ? error.name : typeof error;
    const reason = (error as { reason?: unknown })?.reason;
    logger.warn('absorbed fault', {
      operation,
      fault: name,
      ...(reason ? { reason } : {}),
      ...embeddedMetrics(
        { Operation: operation },
        { [operation === 'crm' ? 'CrmFailures' : 'AbsorbedFaults']: { value: 1, unit: 'Count' } },
      ),
    });
  };
}

/**
 * One line when the CRM circuit opens and one when it closes, each a metric
 * (`CrmCircuitOpened`, `CrmCircuitClosed`): while it is open this instance asks the CRM nothing.
 */
export function logCircuitChange(logger: Logger) {
  return (event: CircuitEvent) => {
    if (event.state === 'open') {
      logger.warn('crm circuit opened', {
        cause: event.cause,
        open_ms: Math.round(event.forMs),
        ...(event.httpStatus === undefined ? {} : { http_status: event.httpStatus }),
        ...embeddedMetrics({}, { CrmCircuitOpened: { value: 1, unit: 'Count' } }),
      });
      return;
    }
    logger.info('crm circuit closed', {
      was_open_ms: Math.round(event.openMs),
      ...embeddedMetrics({}, { CrmCircuitClosed: { value: 1, unit: 'Count' } }),
    });
  };
}
