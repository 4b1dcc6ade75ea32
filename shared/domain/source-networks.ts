import { AUTH0_OUTBOUND_IPS } from './auth0-outbound-ips.ts';

/**
 * The networks allowed to call the sync API (ALLOWED_SOURCE_IPS, cdk context allowedSourceIps):
 * a comma-separated list of IPv4 and IPv6 CIDRs, bare addresses (one host: /32 or /128) and
 * Auth0 regions (`auth0:us`, expanded from Auth0's published outbound ranges).
 *
 * Every address is held as 128 bits, IPv4 inside ::ffff:0:0/96, the IPv4-mapped block of
 * RFC 4291 §2.5.5.2. So `::ffff:1.2.3.4`, which Node's dual-stack servers report for an IPv4
 * peer, is the same address as `1.2.3.4`, and `1.2.3.0/24` is ::ffff:1.2.3.0/120. One
 * consequence: `::/0` covers every IPv4 peer too.
 *
 * A CIDR with bits set past its prefix (`10.0.0.5/8`) is refused, not masked: it reads as
 * either one host or a whole network, and masking would silently widen an allow-list from one
 * address to sixteen million. Python's `ipaddress.ip_network` refuses it too (strict=True).
 */
export interface SourceNetworks {
  /** The entries, trimmed, with each `auth0:<region>` replaced by that region's ranges. */
  readonly networks: readonly string[];
  /** Whether a peer address is inside one of the networks; a malformed address is not. */
  allows(ip: string): boolean;
}

/** A list entry that is not a network; the message names the entry and is fit for a person. */
export class SourceNetworksError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceNetworksError';
  }
}

const AUTH0_PREFIX = 'auth0:';
const BITS = 128;
const V4_MAPPED = 0xffffn << 32n;

interface Network {
  /** The network's first address, host bits clear. */
  readonly base: bigint;
  /** Prefix length over all 128 bits (an IPv4 /24 is 120). */
  readonly prefix: number;
}

/** Parses the list; throws SourceNetworksError naming the first entry that is not a network. */
export function parseSourceNetworks(text: string): SourceNetworks {
  const entries = text.split(',').map((entry) => entry.trim());
  if (entries.every((entry) => entry === '')) {
    throw new SourceNetworksError('the list names no network');
  }
  const networks = entries.flatMap(expandEntry);
  const ranges = networks.map(parseNetwork);
  return {
    networks,
    allows(ip: string): boolean {
      const address = parsePeerAddress(ip);
      if (address === undefined) return false;
      return ranges.some((range) => sameNetwork(address, range.base, range.prefix));
    },
  };
}

/** The Auth0 regions `auth0:<region>` may name, from the published list. */
export function auth0Regions(): readonly string[] {
  return Object.keys(AUTH0_OUTBOUND_IPS.regions).sort();
}

function expandEntry(entry: string): readonly string[] {
  if (entry === '') {
    throw new SourceNetworksError('the list has an empty entry (a doubled or trailing comma)');
  }
  if (!entry.toLowerCase().startsWith(AUTH0_PREFIX)) return [entry];
  const region = entry.slice(AUTH0_PREFIX.length).toLowerCase();
  const ranges = Object.hasOwn(AUTH0_OUTBOUND_IPS.regions, region)
    ? AUTH0_OUTBOUND_IPS.regions[region]
    : undefined;
  if (ranges === undefined) {
    const known = auth0Regions()
      .map((name) => AUTH0_PREFIX + name)
      .join(', ');
    throw new SourceNetworksError(`"${entry}" is not an Auth0 region: known regions are ${known}`);
  }
  return ranges;
}

function parseNetwork(entry: string): Network {
  if (entry.includes('%')) {
    throw new SourceNetworksError(
      `"${entry}" has a zone id: a zone names an interface of one host, not a network`,
    );
  }
  const parts = entry.split('/');
  const [addressText = '', prefixText, extra] = parts;
  if (extra !== undefined) throw new SourceNetworksError(`"${entry}" is not a CIDR`);
  const address = parseAddress(addressText);
  if (address === undefined) {
    const what = prefixText === undefined ? 'an IP address' : 'a CIDR';
    throw new SourceNetworksError(`"${entry}" is not ${what}`);
  }
  const width = address.family === 4 ? 32 : 128;
  const offset = BITS - width;
  if (prefixText === undefined) return { base: address.bits, prefix: BITS };
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > width) {
    throw new SourceNetworksError(
      `"${entry}" is not a CIDR: an IPv${address.family} prefix is a whole number from 0 to ${width}`,
    );
  }
  const prefix = offset + Number(prefixText);
  const base = maskTo(address.bits, prefix);
  if (base !== address.bits) {
    const network = `${formatSameFamily(base, address.family)}/${prefixText}`;
    throw new SourceNetworksError(
      `"${entry}" has bits set past its /${prefixText} prefix: write the network "${network}", ` +
        `or the single address "${addressText}"`,
    );
  }
  return { base, prefix };
}

function maskTo(bits: bigint, prefix: number): bigint {
  const hostBits = BigInt(BITS - prefix);
  return (bits >> hostBits) << hostBits;
}

function sameNetwork(address: bigint, base: bigint, prefix: number): boolean {
  return maskTo(address, prefix) === base;
}

interface Address {
  readonly family: 4 | 6;
  readonly bits: bigint;
}

/** A peer's address as a server reports it: a zone id (`fe80::1%eth0`) names only the interface. */
function parsePeerAddress(text: string): bigint | undefined {
  const zone = text.indexOf('%');
  if (zone === -1) return parseAddress(text)?.bits;
  if (zone === text.length - 1) return undefined;
  const address = parseAddress(text.slice(0, zone));
  return address?.family === 6 ? address.bits : undefined;
}

function parseAddress(text: string): Address | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, bits: V4_MAPPED | v4 };
  const v6 = parseIpv6(text);
  return v6 === undefined ? undefined : { family: 6, bits: v6 };
}

/** Four decimal octets; a leading zero is refused, since some parsers read `010` as octal. */
function parseIpv4(text: string): bigint | undefined {
  const octets = text.split('.');
  if (octets.length !== 4) return undefined;
  let bits = 0n;
  for (const octet of octets) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(octet) || Number(octet) > 255) return undefined;
    bits = (bits << 8n) | BigInt(octet);
  }
  return bits;
}

/** RFC 4291 §2.2: eight groups of 1–4 hex digits, one `::` at most, an IPv4 tail allowed. */
function parseIpv6(text: string): bigint | undefined {
  let hex = text;
  if (text.includes('.')) {
    const lastColon = text.lastIndexOf(':');
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (lastColon === -1 || v4 === undefined) return undefined;
    // The dotted quad is the last 32 bits: rewritten as two hex groups, it parses like the rest.
    hex = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = hex.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string | undefined) => (half ? half.split(':') : []);
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  const compressed = halves.length === 2;
  const count = head.length + tail.length;
  if (compressed ? count > 7 : count !== 8) return undefined;
  const groups = [...head, ...Array<string>(8 - count).fill('0'), ...tail];
  let bits = 0n;
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    bits = (bits << 16n) | BigInt(`0x${group}`);
  }
  return bits;
}

/** For the hint in an error: the masked network, written in the family the entry used. */
function formatSameFamily(bits: bigint, family: 4 | 6): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => ((bits >> shift) & 0xffn).toString()).join('.');
  }
  const groups = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(((bits >> shift) & 0xffffn).toString(16));
  }
  return compressLongestZeroRun(groups);
}

/** RFC 5952 §4.2: `::` replaces the longest run of two or more zero groups, the first if tied. */
function compressLongestZeroRun(groups: readonly string[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < groups.length; ) {
    let end = start;
    while (groups[end] === '0') end += 1;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end === start ? start + 1 : end;
  }
  if (bestStart === -1) return groups.join(':');
  const before = groups.slice(0, bestStart).join(':');
  const after = groups.slice(bestStart + bestLength).join(':');
  return `${before}::${after}`;
}
