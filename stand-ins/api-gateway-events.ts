import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { LOCAL_REGION } from './local-aws-clients.ts';

/**
 * The one builder of what API Gateway hands a Lambda: the HTTP API event of payload format 2.0
 * and the invocation's Context. The local HTTP bridge (api-gateway.ts), the sync test harness
 * and the benchmarks all build their events here, so the handler meets one shape everywhere.
 *
 * As documented for payload format 2.0
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html):
 * header names are lowercased and repeated headers joined with commas; the `cookie` header is
 * not among them but split into `cookies`; repeated query parameters are joined with commas;
 * `rawPath`, `rawQueryString` and `requestContext.http` ({ method, path, protocol, sourceIp,
 * userAgent }) describe the request line; `requestContext.time` is in the access-log format
 * (`12/Mar/2020:19:03:58 +0000`) and `timeEpoch` in epoch milliseconds; a body API Gateway does
 * not take for text arrives base64-encoded, with `isBase64Encoded` saying so.
 *
 * The path arrives percent-DECODED: "API Gateway decodes URL-encoded request parameters before
 * passing them to your backend integration"
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html),
 * and a captured event shows it for `rawPath` itself: a request for `/a%2Fb` arrives as
 * `"rawPath": "/a/b"` (github.com/fastify/aws-lambda-fastify/issues/169). `rawQueryString`
 * stays encoded. With the `$default` route (infra/constructs/sync-api.ts) there is no route
 * template, hence no `pathParameters`: the handler reads the id from `rawPath`.
 * Not modelled: reports that a decoded `?` cuts `rawPath` short
 * (github.com/middleapi/standard-server/pull/93); no Auth0 user id holds one.
 */

/** What HTTP APIs pass as text; everything else arrives base64-encoded. */
const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript)\b|[^;]*\+json\b)/i;
const ACCOUNT_ID = '000000000000';
const API_ID = 'local';

export interface HttpRequest {
  readonly method: string;
  /** The request target as on the request line: the path, and the query string if any. */
  readonly target: string;
  /** Header names in any case; a header sent more than once as an array of its values. */
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body?: Buffer | string;
  /** Overrides API Gateway's choice, by content type, of passing the body base64-encoded. */
  readonly base64?: boolean | undefined;
  /** When API Gateway received the request (epoch ms); now by default. */
  readonly receivedAt?: number | undefined;
  readonly protocol?: string | undefined;
  readonly sourceIp?: string | undefined;
}

/** The event API Gateway (HTTP API, `$default` route and stage) sends for `request`. */
export function httpApiEvent(request: HttpRequest): APIGatewayProxyEventV2 {
  const url = new URL(request.target, 'http://localhost');
  const path = decodedPath(url.pathname);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    const joined = typeof value === 'string' ? value : value.join(',');
    headers[key] = headers[key] === undefined ? joined : `${headers[key]},${joined}`;
  }
  const cookies = headers.cookie?.split(';').map((c) => c.trim());
  delete headers.cookie;
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = query[name] ? `${query[name]},${value}` : value;
  const base64 = request.base64 ?? !TEXT_TYPES.test(headers['content-type'] ?? '');
  const receivedAt = request.receivedAt ?? Date.now();
  const domainName = headers.host ?? 'localhost';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: url.search.slice(1),
    headers,
    ...(cookies ? { cookies } : {}),
    ...(url.search ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: ACCOUNT_ID,
      apiId: API_ID,
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method: request.method,
        path,
        protocol: request.protocol ?? 'HTTP/1.1',
        sourceIp: request.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: accessLogTime(receivedAt),
      timeEpoch: receivedAt,
    },
    ...(request.body?.length
      ? { body: encodeBody(request.body, base64), isBase64Encoded: base64 }
      : { isBase64Encoded: false }),
  };
}

/** The path as API Gateway passes it on; one that is not valid percent-encoded UTF-8 stays as sent. */
function decodedPath(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return pathname;
  }
}

function encodeBody(body: Buffer | string, base64: boolean): string {
  if (base64) return Buffer.from(body).toString('base64');
  return typeof body === 'string' ? body : body.toString('utf8');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, as in `requestContext.time`. */
function accessLogTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** The Context of one invocation of `functionName`, whose time runs out after `timeoutMs`. */
export function lambdaContext(
  options: { functionName?: string; timeoutMs?: number; memoryMb?: number } = {},
): Context {
  const functionName = options.functionName ?? 'crm-sync-local';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const started = Date.now();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: String(options.memoryMb ?? 512),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
