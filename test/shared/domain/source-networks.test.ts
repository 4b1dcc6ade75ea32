import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AUTH0_OUTBOUND_IPS } from '#shared/domain/auth0-outbound-ips.ts';
import {
  auth0Regions,
  parseSourceNetworks,
  SourceNetworksError,
} from '#shared/domain/source-networks.ts';

const allows = (list: string, ip: string) => parseSourceNetworks(list).allows(ip);

describe('IPv4 networks', () => {
  it('a /24 takes its 256 addresses and nothing beside them', () => {
    expect(allows('192.0.2.0/24', '192.0.2.0')).toBe(true);
    expect(allows('192.0.2.0/24', '192.0.2.255')).toBe(true);
    expect(allows('192.0.2.0/24', '192.0.1.255')).toBe(false);
    expect(allows('192.0.2.0/24', '192.0.3.0')).toBe(false);
  });

  it('a bare address is one host, /32', () => {
    expect(allows('198.51.100.7', '198.51.100.7')).toBe(true);
    expect(allows('198.51.100.7', '198.51.100.8')).toBe(false);
  });

  it('0.0.0.0/0 is every IPv4 address, and /0 of IPv4 is not IPv6', () => {
    expect(allows('0.0.0.0/0', '203.0.113.9')).toBe(true);
    expect(allows('0.0.0.0/0', '2001:db8::1')).toBe(false);
  });

  it('any entry of the list may match, whitespace around entries aside', () => {
    const list = ' 10.0.0.0/8 , 192.0.2.1 ,2001:db8::/32';
    expect(allows(list, '10.200.3.4')).toBe(true);
    expect(allows(list, '192.0.2.1')).toBe(true);
    expect(allows(list, '2001:db8:ffff::1')).toBe(true);
    expect(allows(list, '172.16.0.1')).toBe(false);
  });
});

describe('IPv6 networks', () => {
  it('reads :: compression, uppercase hex and full forms as the same address', () => {
    const list = '2001:db8:0:0:0:0:0:1';
    for (const same of ['2001:db8::1', '2001:DB8::0001', '2001:0db8:0000::1']) {
      expect(allows(list, same)).toBe(true);
    }
    expect(allows(list, '2001:db8::2')).toBe(false);
  });

  it('a /64 takes its interface ids and not the next /64', () => {
    expect(allows('2001:db8:1:2::/64', '2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe(true);
    expect(allows('2001:db8:1:2::/64', '2001:db8:1:3::')).toBe(false);
  });

  it('a peer address with a zone id matches by its address (the zone names an interface)', () => {
    expect(allows('fe80::/10', 'fe80::1%eth0')).toBe(true);
    expect(allows('fe80::/10', 'fe80::1%')).toBe(false);
    expect(allows('10.0.0.0/8', '10.0.0.1%eth0')).toBe(false);
  });

  it('::1 is loopback only', () => {
    expect(allows('::1', '::1')).toBe(true);
    expect(allows('::1', '127.0.0.1')).toBe(false);
  });
});

describe('IPv4-mapped IPv6 addresses (what a dual-stack Node server reports)', () => {
  it('::ffff:1.2.3.4 is 1.2.3.4, in either spelling', () => {
    expect(allows('1.2.3.0/24', '::ffff:1.2.3.4')).toBe(true);
    expect(allows('1.2.3.0/24', '::FFFF:0102:0304')).toBe(true);
    expect(allows('1.2.3.0/24', '::ffff:1.2.4.4')).toBe(false);
    expect(allows('127.0.0.1', '::ffff:127.0.0.1')).toBe(true);
  });

  it('a mapped entry in the list matches the plain IPv4 peer', () => {
    expect(allows('::ffff:10.0.0.0/104', '10.1.2.3')).toBe(true);
    expect(allows('::ffff:10.0.0.0/104', '11.1.2.3')).toBe(false);
  });

  it('the deprecated IPv4-compatible ::1.2.3.4 is an IPv6 address, not 1.2.3.4', () => {
    expect(allows('1.2.3.0/24', '::1.2.3.4')).toBe(false);
  });
});

describe('a malformed peer address is never allowed', () => {
  const everyone = parseSourceNetworks('0.0.0.0/0,::/0');
  it.each([
    '',
    'localhost',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.4/32',
    '[::1]',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    ':::',
    '12345::1',
    'g::1',
    ' 1.2.3.4',
    '::ffff:1.2.3',
  ])('%j', (ip) => {
    expect(everyone.allows(ip)).toBe(false);
  });
});

describe('a list that is not a list of networks is refused, naming the entry', () => {
  it.each([
    ['10.0.0.0/33', '"10.0.0.0/33" is not a CIDR: an IPv4 prefix is a whole number from 0 to 32'],
    ['::/129', '"::/129" is not a CIDR: an IPv6 prefix is a whole number from 0 to 128'],
    ['10.0.0.0/-1', '"10.0.0.0/-1" is not a CIDR'],
    ['10.0.0.0/08', '"10.0.0.0/08" is not a CIDR'],
    ['10.0.0.0/', '"10.0.0.0/" is not a CIDR'],
    ['10.0.0.0/8/8', '"10.0.0.0/8/8" is not a CIDR'],
    ['10.0.0/8', '"10.0.0/8" is not a CIDR'],
    ['300.0.0.0/8', '"300.0.0.0/8" is not a CIDR'],
    ['010.0.0.0/8', '"010.0.0.0/8" is not a CIDR'],
    ['2001:db8::/3x', '"2001:db8::/3x" is not a CIDR'],
    ['2001:db8:::/32', '"2001:db8:::/32" is not a CIDR'],
    ['1::2::/32', '"1::2::/32" is not a CIDR'],
    ['example.com', '"example.com" is not an IP address'],
    ['10.0.0.1-10.0.0.9', '"10.0.0.1-10.0.0.9" is not an IP address'],
    ['fe80::1%eth0', '"fe80::1%eth0" has a zone id'],
    ['10.0.0.0/8,,192.0.2.1', 'the list has an empty entry'],
    ['10.0.0.0/8,', 'the list has an empty entry'],
    [' , ', 'the list names no network'],
  ])('%j', (list, message) => {
    expect(() => parseSourceNetworks(list)).toThrow(message);
  });

  it('a CIDR with host bits set is refused with both readings offered, not masked', () => {
    expect(() => parseSourceNetworks('10.1.2.3/8')).toThrow(
      '"10.1.2.3/8" has bits set past its /8 prefix: write the network "10.0.0.0/8", or the ' +
        'single address "10.1.2.3"',
    );
    expect(() => parseSourceNetworks('2001:db8::1/64')).toThrow(
      'write the network "2001:db8::/64", or the single address "2001:db8::1"',
    );
  });

  it('the error is a SourceNetworksError, so callers can tell it from a fault', () => {
    expect(() => parseSourceNetworks('nope')).toThrow(SourceNetworksError);
  });
});

describe('auth0:<region> expands to Auth0’s published outbound ranges', () => {
  it('auth0:us allows every address Auth0 lists for the US region, and no other region', () => {
    const us = parseSourceNetworks('auth0:us');
    expect(us.networks).toEqual(AUTH0_OUTBOUND_IPS.regions.us);
    for (const cidr of AUTH0_OUTBOUND_IPS.regions.us ?? []) {
      expect(us.allows(cidr.split('/')[0] ?? '')).toBe(true);
    }
    // An EU egress address (docs: "Europe") is not a US one.
    expect(us.allows('52.28.184.187')).toBe(false);
    expect(parseSourceNetworks('auth0:eu').allows('52.28.184.187')).toBe(true);
  });

  it('the region is read case-insensitively and mixes with CIDRs', () => {
    const list = parseSourceNetworks('AUTH0:EU, 192.0.2.0/24');
    expect(list.allows('52.28.184.187')).toBe(true);
    expect(list.allows('192.0.2.10')).toBe(true);
  });

  it('an unknown region is refused with the regions Auth0 publishes', () => {
    expect(() => parseSourceNetworks('auth0:mars')).toThrow(
      '"auth0:mars" is not an Auth0 region: known regions are auth0:au, auth0:ca, auth0:eu, ' +
        'auth0:jp, auth0:uk, auth0:us',
    );
    expect(() => parseSourceNetworks('auth0:')).toThrow('is not an Auth0 region');
    expect(() => parseSourceNetworks('auth0:toString')).toThrow('is not an Auth0 region');
  });

  it('every published range is itself a valid network, and every region has some', () => {
    expect(auth0Regions()).toEqual(['au', 'ca', 'eu', 'jp', 'uk', 'us']);
    for (const region of auth0Regions()) {
      expect(parseSourceNetworks(`auth0:${region}`).networks.length).toBeGreaterThan(0);
    }
  });
});

/** An address as a bigint of `bits` bits, written the usual way. */
function format(value: bigint, family: 4 | 6): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 0xffn).toString()).join('.');
  }
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
  return groups.join(':');
}

const network = (bits: 32 | 128) =>
  fc
    .record({
      address: fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }),
      prefix: fc.integer({ min: 0, max: bits }),
      inside: fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }),
    })
    .map(({ address, prefix, inside }) => {
      const hostBits = BigInt(bits - prefix);
      const base = (address >> hostBits) << hostBits;
      const hostMask = (1n << hostBits) - 1n;
      return { base, prefix, hostBits, member: base | (inside & hostMask) };
    });

describe('property: an address inside a CIDR is allowed, one outside is not', () => {
  for (const [family, bits] of [
    [4, 32],
    [6, 128],
  ] as const) {
    it(`IPv${family}`, () => {
      fc.assert(
        fc.property(network(bits), ({ base, prefix, hostBits, member }) => {
          const list = parseSourceNetworks(`${format(base, family)}/${prefix}`);
          expect(list.allows(format(member, family))).toBe(true);
          if (family === 4) expect(list.allows(`::ffff:${format(member, 4)}`)).toBe(true);
          if (prefix > 0) {
            // Flipping the last bit of the prefix lands in the neighbouring network.
            const outside = member ^ (1n << hostBits);
            expect(list.allows(format(outside, family))).toBe(false);
          }
        }),
      );
    });
  }
});
