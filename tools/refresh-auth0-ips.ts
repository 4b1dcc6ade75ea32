import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readCappedBody, utf8OrUndefined } from '#shared/adapters/capped-body.ts';
import type { Auth0OutboundIps } from '#shared/domain/auth0-outbound-ips.ts';
import { parseSourceNetworks, SourceNetworksError } from '#shared/domain/source-networks.ts';

/**
 * `npm run refresh:auth0-ips`: downloads Auth0's machine-readable list of outbound IP ranges
 * and rewrites shared/domain/auth0-outbound-ips.ts, which `auth0:<region>` in
 * ALLOWED_SOURCE_IPS expands from. The list and its schema are documented on
 * https://auth0.com/docs/secure/security-guidance/data-security/allowlist ("Machine-readable
 * list"): `last_updated_at` (ISO 8601), `regions` (per region code an object with `ipv4_cidrs`)
 * and `changelog`. Auth0 asks for a weekly check; the file changes only when the list does.
 *
 * The module is written only once the whole download has been read and every range validated,
 * and then by rename, so a failure (offline, a timeout, a truncated or odd answer) leaves the
 * committed file exactly as it was.
 */

/** Auth0's published URL (the docs page above; also what terraform-provider-auth0 reads). */
export const AUTH0_IP_RANGES_URL = 'https://cdn.auth0.com/ip-ranges.json';
export const DATA_MODULE = join(import.meta.dirname, '../shared/domain/auth0-outbound-ips.ts');

/** The list is a few kilobytes; anything far larger is not it. */
const MAX_BYTES = 1_000_000;
const TIMEOUT_MS = 15_000;
const REGION_CODE = /^[A-Za-z][A-Za-z0-9-]{0,15}$/;

/** The download or its content is not Auth0's list; the message says which, for a person. */
export class RefreshError extends Error {
  override readonly name = 'RefreshError';
}

export interface RefreshOptions {
  readonly url?: string;
  readonly file?: string;
  readonly now?: Date;
  readonly timeoutMs?: number;
}

export interface RefreshResult {
  /** Whether anything but the date differs from the file as it was. */
  readonly rangesChanged: boolean;
  readonly data: Auth0OutboundIps;
  /** Fields of a region this script does not read (e.g. a future `ipv6_cidrs`), to look into. */
  readonly ignoredFields: readonly string[];
}

export async function refreshAuth0Ips(options: RefreshOptions = {}): Promise<RefreshResult> {
  const url = options.url ?? AUTH0_IP_RANGES_URL;
  const file = options.file ?? DATA_MODULE;
  const text = await download(url, options.timeoutMs ?? TIMEOUT_MS);
  const { lastUpdatedAt, regions, ignoredFields } = parseAuth0IpRanges(text);
  const takenOn = (options.now ?? new Date()).toISOString().slice(0, 10);
  const data: Auth0OutboundIps = { takenOn, source: url, lastUpdatedAt, regions };
  const before = await readFile(file, 'utf8').catch(() => '');
  const rangesChanged = before !== renderDataModule({ ...data, takenOn: takenOnOf(before) ?? '' });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, renderDataModule(data));
  await rename(temporary, file);
  return { rangesChanged, data, ignoredFields };
}

/** Auth0's list, checked: every region has a code and at least one valid IPv4 CIDR. */
export function parseAuth0IpRanges(text: string): {
  lastUpdatedAt: string;
  regions: Record<string, readonly string[]>;
  ignoredFields: string[];
} {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RefreshError('the answer is not JSON');
  }
  if (!isRecord(json)) throw new RefreshError('the answer is not a JSON object');
  const { last_updated_at: lastUpdatedAt, regions } = json;
  if (typeof lastUpdatedAt !== 'string' || Number.isNaN(Date.parse(lastUpdatedAt))) {
    throw new RefreshError('last_updated_at is missing or not an ISO 8601 timestamp');
  }
  if (!isRecord(regions) || Object.keys(regions).length === 0) {
    throw new RefreshError('regions is missing or empty');
  }
  const parsed: Record<string, readonly string[]> = {};
  const ignoredFields: string[] = [];
  for (const [code, region] of Object.entries(regions)) {
    if (!REGION_CODE.test(code)) throw new RefreshError(`region "${code}" is not a region code`);
    const name = code.toLowerCase();
    if (!isRecord(region)) throw new RefreshError(`region ${code} is not an object`);
    const cidrs = region.ipv4_cidrs;
    if (!Array.isArray(cidrs) || cidrs.length === 0) {
      throw new RefreshError(`region ${code} has no ipv4_cidrs`);
    }
    if (!cidrs.every((cidr): cidr is string => typeof cidr === 'string' && !cidr.includes(','))) {
      throw new RefreshError(`region ${code}: ipv4_cidrs holds something other than CIDRs`);
    }
    try {
      parseSourceNetworks(cidrs.join(','));
    } catch (error) {
      if (!(error instanceof SourceNetworksError)) throw error;
      throw new RefreshError(`region ${code}: ${error.message}`);
    }
    if (Object.hasOwn(parsed, name)) throw new RefreshError(`region ${code} appears twice`);
    parsed[name] = [...cidrs];
    ignoredFields.push(
      ...Object.keys(region)
        .filter((key) => key !== 'ipv4_cidrs')
        .map((key) => `regions.${code}.${key}`),
    );
  }
  return { lastUpdatedAt, regions: parsed, ignoredFields };
}

/** The data module's text, as biome formats it, so that a refresh's diff is only the data. */
export function renderDataModule(data: Auth0OutboundIps): string {
  const regions = Object.keys(data.regions)
    .sort()
    .map((name) => {
      const key = /^[a-z][a-z0-9]*$/.test(name) ? name : quote(name);
      const cidrs = (data.regions[name] ?? []).map(quote);
      const oneLine = `    ${key}: [${cidrs.join(', ')}],`;
      if (oneLine.length <= LINE_WIDTH) return `${oneLine}\n`;
      return `    ${key}: [\n${cidrs.map((cidr) => `      ${cidr},\n`).join('')}    ],\n`;
    })
    .join('');
  const property = (name: string, value: string) => {
    const oneLine = `  ${name}: ${value},`;
    return oneLine.length <= LINE_WIDTH ? oneLine : `  ${name}:\n    ${value},`;
  };
  const lastUpdatedAt = data.lastUpdatedAt === null ? 'null' : quote(data.lastUpdatedAt);
  return `// Generated by tools/refresh-auth0-ips.ts (\`npm run refresh:auth0-ips\`): run it again rather
// than editing by hand, and review the diff before committing it.

/** Auth0's published outbound IP ranges: the addresses Actions and log streams call from. */
export interface Auth0OutboundIps {
  /** The day (UTC) these ranges were taken from the source. */
  readonly takenOn: string;
  /** Where they were taken from. */
  readonly source: string;
  /** The list's own \`last_updated_at\`, when the source carries one. */
  readonly lastUpdatedAt: string | null;
  /** Per tenant region (\`us\` for tenants on *.us.auth0.com), its IPv4 CIDRs. */
  readonly regions: Readonly<Record<string, readonly string[]>>;
}

export const AUTH0_OUTBOUND_IPS: Auth0OutboundIps = {
${property('takenOn', quote(data.takenOn))}
${property('source', quote(data.source))}
${property('lastUpdatedAt', lastUpdatedAt)}
  regions: {
${regions}  },
};
`;
}

const LINE_WIDTH = 100; // biome.json's lineWidth

function quote(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function takenOnOf(moduleText: string): string | undefined {
  return /^ {2}takenOn: '(\d{4}-\d{2}-\d{2})',$/m.exec(moduleText)?.[1];
}

/**
 * GET with no credentials of any kind, no redirect followed (Auth0's CDN answers this URL
 * itself; a redirect would mean the list moved, which a person should look at), one deadline
 * for the whole exchange, and the body abandoned past MAX_BYTES.
 */
async function download(url: string, timeoutMs: number): Promise<string> {
  const signal = AbortSignal.timeout(timeoutMs);
  const where = `Auth0's IP ranges from ${url}`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: 'application/json' },
      credentials: 'omit',
      redirect: 'manual',
      signal,
    });
  } catch (error) {
    const why = signal.aborted ? `no answer within ${timeoutMs} ms` : networkReason(error);
    throw new RefreshError(`could not download ${where} (${why}); is the network available?`);
  }
  try {
    if (response.status !== 200) {
      const moved = response.headers.get('location');
      const hint = moved ? `, redirecting to ${moved}: check the docs page for the new URL` : '';
      throw new RefreshError(`downloading ${where} answered HTTP ${response.status}${hint}`);
    }
    return await readCapped(response, signal, where);
  } finally {
    await response.body?.cancel().catch(() => {});
  }
}

async function readCapped(response: Response, signal: AbortSignal, where: string) {
  const tooLarge = () =>
    new RefreshError(`${where} is larger than ${MAX_BYTES} bytes; that is not the list`);
  if (Number(response.headers.get('content-length')) > MAX_BYTES) throw tooLarge();
  let bytes: Buffer | undefined;
  try {
    bytes = await readCappedBody(response, MAX_BYTES);
  } catch (error) {
    const why = signal.aborted ? 'timed out' : networkReason(error);
    throw new RefreshError(`reading ${where} failed part way (${why})`);
  }
  if (bytes === undefined) throw tooLarge();
  const text = utf8OrUndefined(bytes);
  if (text === undefined) throw new RefreshError(`${where} is not UTF-8 text`);
  return text;
}

/** undici's "fetch failed" hides the reason in `cause` (ENOTFOUND, ECONNREFUSED, ...). */
function networkReason(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && 'code' in cause && typeof cause.code === 'string') {
    return cause.code;
  }
  return error instanceof Error ? error.message : String(error);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

async function main(): Promise<void> {
  const url = flag('url') ?? process.env.AUTH0_IP_RANGES_URL ?? AUTH0_IP_RANGES_URL;
  const file = flag('out') ?? DATA_MODULE;
  const { rangesChanged, data, ignoredFields } = await refreshAuth0Ips({ url, file });
  const counts = Object.entries(data.regions).map(([name, cidrs]) => `${name} ${cidrs.length}`);
  console.log(
    rangesChanged
      ? `updated ${file}: ${counts.join(', ')} (Auth0's list of ${data.lastUpdatedAt}); review the diff`
      : `no range changed since the last refresh; ${file} now says it was checked ${data.takenOn}`,
  );
  if (ignoredFields.length > 0) {
    console.warn(`not read (new in Auth0's schema? check the docs): ${ignoredFields.join(', ')}`);
  }
}

if (process.argv[1]?.endsWith('refresh-auth0-ips.ts')) {
  main().catch((error: unknown) => {
    const known = error instanceof RefreshError;
    console.error(
      known ? `refresh:auth0-ips: ${error.message}\nThe data module was left as it was.` : error,
    );
    process.exitCode = 1;
  });
}
