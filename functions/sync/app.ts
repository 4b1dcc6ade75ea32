import { createHash } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logAbsorbedFault } from '#shared/composition/operational-logs.ts';
import { SyncApiError } from '#shared/domain/errors.ts';
import type { SignatureLedger, StampStore } from '#shared/domain/ports.ts';
import { readSignatureHeader, signatureValidUntil } from '#shared/domain/signature.ts';
import type { SourceNetworks } from '#shared/domain/source-networks.ts';
import type { SyncService } from '#shared/domain/sync.ts';
import {
  isUserId,
  type RequestPolicy,
  readSyncRequest,
  type SyncRequest,
} from '#shared/domain/sync-request.ts';
import { toSyncResponse } from '#shared/domain/sync-response.ts';
import { explainUser } from '#shared/domain/user-explanation.ts';
import type { HttpResult } from '#shared/http/http.ts';
import { json } from '#shared/http/http.ts';
import {
  bodyLimit,
  contractErrors,
  correlationId,
  jsonBody,
  MAX_BODY_BYTES,
  noBody,
  type ParsedEvent,
  router,
  signedRequest,
  throttle,
} from '#shared/http/middleware.ts';
import { type RequestTrace, requestLog } from '#shared/http/request-log.ts';
import { sourceAllowList } from '#shared/http/source-allow-list.ts';

export interface SyncApiDependencies {
  readonly service: SyncService;
  readonly signingSecrets: () => Promise<readonly string[]>;
  /**
   * Where used signatures are remembered: of forced requests, so a replay cannot force again,
   * and of GETs, so a replay cannot read.
   */
  readonly signatureLedger: SignatureLedger;
  /** Read by GET /v1/users/{user_id} only: the login path reads stamps through `service`. */
  readonly stamps: Pick<StampStore, 'get'>;
  readonly requestPolicy: RequestPolicy;
  readonly claimNamespace: string;
  readonly logger: Logger;
  readonly rateLimit: { readonly perSecond: number; readonly burst: number };
  /** ALLOWED_SOURCE_IPS: who may call at all; undefined lets every network call. */
  readonly allowedSources?: SourceNetworks | undefined;
  readonly clock?: () => number;
}

/** The Sync API v1 (docs/sync-api.md) as one Lambda handler for API Gateway HTTP API payload v2. */
export function createSyncApi(deps: SyncApiDependencies) {
  const { logger, service, requestPolicy, claimNamespace } = deps;
  const clock = deps.clock ?? Date.now;
  const onFault = logAbsorbedFault(logger);

  /**
   * Whether this request's signature is used for the first time, by the ledger of used
   * signatures; throws when the ledger cannot be asked. The signature was verified by
   * `signedRequest`, so its header reads.
   */
  const firstUseOfSignature = async (event: ParsedEvent): Promise<boolean> => {
    const signature = readSignatureHeader(event.headers?.['x-sync-signature']);
    if (signature === undefined) throw new Error('no verified x-sync-signature to remember');
    // The ledger keeps a hash: a signature is not a secret, but it has no business in a table.
    const id = createHash('sha256').update(signature.mac).digest('base64url').slice(0, 32);
    return deps.signatureLedger.firstUse(id, signatureValidUntil(signature.timestamp));
  };

  /**
   * A forced request asks the CRM whatever the stamp says, so its signature is single-use: a
   * replay (or a retry of the same bytes) is answered as an ordinary request, from the stamp.
   */
  const signatureUse = async (event: ParsedEvent): Promise<'first' | 'replay' | 'unknown'> => {
    try {
      return (await firstUseOfSignature(event)) ? 'first' : 'replay';
    } catch (error) {
      onFault({ operation: 'replay_check', error });
      return 'unknown';
    }
  };

  /**
   * A GET's signature covers "<t>." and no path, so it would read any user while it is valid:
   * it is single-use, and a replay reads nothing. Fails closed: when the ledger cannot be
   * asked, nothing is read (500; the log line names the fault). A replay's path is not logged
   * as a user id: whoever replays is not known to be a signer.
   */
  const admitOnce = async (event: ParsedEvent, trace: RequestTrace): Promise<void> => {
    let first: boolean;
    try {
      first = await firstUseOfSignature(event);
    } catch (error) {
      trace.replayCheck = 'failed';
      throw error;
    }
    if (!first) {
      trace.replayed = true;
      throw new SyncApiError(
        'invalid_signature',
        'this signature was used already; sign each request anew',
      );
    }
  };

  // Order matters: nothing reads the body before its size and signature have been checked.
  const sync = middy<ParsedEvent, HttpResult>()
    .use(throttle(deps.rateLimit.perSecond, deps.rateLimit.burst, clock))
    .use(bodyLimit(MAX_BODY_BYTES))
    .use(signedRequest(deps.signingSecrets, clock))
    .use(jsonBody())
    .handler(async (event) => {
      const trace = event.trace as RequestTrace;
      let request: SyncRequest;
      try {
        request = readSyncRequest(event.parsedBody, requestPolicy);
      } catch (error) {
        // Refused: the line still names the user when the id itself was not the problem.
        trace.userId = knownUserId(event.parsedBody);
        throw error;
      }
      trace.userId = request.userId;
      request = { ...request, receivedAt: event.requestContext?.timeEpoch };
      trace.matchKey = request.matchKey.kind;
      const use = request.force ? await signatureUse(event) : 'first';
      if (use !== 'first') {
        // A replay, or unknown (the ledger could not be asked): answered, only not forced.
        request = { ...request, force: false };
        if (use === 'replay') trace.replayed = true;
        else trace.replayCheck = 'failed';
      }
      trace.forced = request.force;
      const outcome = await service.sync(request);
      // Its own code, so a metric and an alarm can count the CRM's duplicates (docs/sync-api.md).
      const ambiguous = outcome.ambiguousMatches !== undefined && outcome.crmMs !== undefined;
      trace.outcome = ambiguous ? 'ambiguous_match' : outcome.status;
      if (ambiguous) trace.crmMatches = outcome.ambiguousMatches;
      trace.crmMs = outcome.crmMs;
      trace.crmFault = outcome.crmFault;
      return json(200, toSyncResponse(request.userId, outcome, claimNamespace));
    });

  // Signed like POST /v1/sync (over "<t>." and the empty body), with a bucket of its own: an
  // operator's look-ups never take a login's place. Its signature is single-use (`admitOnce`);
  // it reads the stamp and never asks the CRM.
  const explain = middy<ParsedEvent, HttpResult>()
    .use(throttle(deps.rateLimit.perSecond, deps.rateLimit.burst, clock))
    .use(bodyLimit(MAX_BODY_BYTES))
    .use(signedRequest(deps.signingSecrets, clock))
    .use(noBody(`GET ${USER_ROUTE}`))
    .handler(async (event) => {
      const trace = event.trace as RequestTrace;
      const userId = event.pathParameter;
      if (!isUserId(userId)) {
        // Not echoed: the path is whatever the caller typed.
        throw new SyncApiError(
          'invalid_request',
          'the path must end in an Auth0 user id, percent-encoded: 1 to 256 characters of well-formed text, no control characters, not starting with #',
        );
      }
      await admitOnce(event, trace);
      trace.userId = userId;
      // Consistent: a lookup that failed a moment ago is what the operator is asking about.
      const entry = await deps.stamps.get(userId, { consistent: true });
      const explanation = explainUser(userId, entry, clock(), claimNamespace);
      if (explanation === undefined) {
        const leased = entry?.lease !== undefined && entry.lease.until > clock();
        throw new SyncApiError(
          'user_not_found',
          `the service holds no stamp and no failed lookup for this user${leased ? '; a first lookup is in flight now' : ''}`,
        );
      }
      trace.outcome = 'explained';
      trace.userStatus = explanation.status;
      return json(200, explanation);
    });

  const health = async (event: ParsedEvent) => {
    (event.trace as RequestTrace).outcome = 'health';
    return json(200, { status: 'ok' });
  };

  return middy<ParsedEvent, HttpResult>()
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(requestLog(logger, clock))
    .use(correlationId(logger))
    .use(contractErrors())
    .use(sourceAllowList(deps.allowedSources))
    .handler(
      router({
        '/v1/sync': { POST: sync },
        [USER_ROUTE]: { GET: explain },
        '/v1/health': { GET: health },
      }),
    );
}

const USER_ROUTE = '/v1/users/{user_id}';

/** The request's user id for its log line: only a well-formed one, from a verified body. */
function knownUserId(body: unknown): string | undefined {
  const userId = (body as { user_id?: unknown } | null)?.user_id;
  return isUserId(userId) ? userId : undefined;
}
