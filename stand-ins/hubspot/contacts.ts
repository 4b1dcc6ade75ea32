import { parsePhoneNumberFromString } from 'libphonenumber-js/core';
import { PHONE_METADATA } from '#shared/domain/phone-metadata.ts';
import { SAMPLE_CONTACTS } from '../demo-data.ts';

/**
 * HubSpot's contacts as its CRM search API sees them, built from the "Search the CRM" guide
 * (https://developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm) and the CRM v3
 * contacts spec (HubSpot/HubSpot-public-api-spec-collection, PublicApiSpecs/CRM/Contacts):
 * - every property value is a string; a property without one is absent;
 * - `hs_searchable_calculated_phone_number` and `..._mobile_number` are computed from `phone`
 *   and `mobilephone`: "HubSpot only uses the area code and local number", so they hold the
 *   national number's digits, whatever format was typed (the portal's country, here the US,
 *   reads a number typed without a country code);
 * - filters compare case-insensitively ("Values in filters are case-insensitive");
 * - "It may take a few moments for newly created or updated CRM objects to appear in search
 *   results": a change is searchable `indexLagMs` after it is made (0 unless a test says).
 */
export type HubSpotProperties = Record<string, string>;

export interface HubSpotContact {
  readonly id: string;
  readonly properties: HubSpotProperties;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface HubSpotFilter {
  readonly propertyName: string;
  readonly operator: string;
  readonly value?: unknown;
  readonly values?: unknown;
}

/** The operators of the spec's Filter.operator enum that this stand-in evaluates. */
export const SUPPORTED_OPERATORS = new Set(['EQ', 'NEQ', 'IN', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY']);

/** The demo portal: the sample people, their numbers typed as people type them. */
export function demoHubSpotContacts(): HubSpotProperties[] {
  const typed = ['555-010-0001', '(555) 010-0002', '+1 555 010 0003', '+44 7700 900123'];
  return SAMPLE_CONTACTS.map((contact, i) => {
    const [firstname = '', lastname = ''] = contact.name.split(' ');
    return {
      firstname,
      lastname,
      email: contact.email,
      phone: typed[i] ?? contact.phone,
      lifecyclestage: contact.tier === 'gold' ? 'customer' : 'lead',
      notes_last_contacted: 'internal notes that must never reach a token',
    };
  });
}

export class HubSpotContactStore {
  private readonly versions = new Map<string, Array<{ at: number; contact?: HubSpotContact }>>();
  private nextId = 51;

  constructor(
    private readonly clock: () => number = Date.now,
    /** How long a change takes to reach search results. */
    public indexLagMs = 0,
  ) {}

  /** Creates a contact; its id, as HubSpot numbers them (a string of digits). */
  create(properties: HubSpotProperties): string {
    const id = String(this.nextId++);
    const at = new Date(this.clock()).toISOString();
    this.record(id, {
      id,
      properties: withCalculated(id, properties, at),
      createdAt: at,
      updatedAt: at,
    });
    return id;
  }

  /** Changes properties of a contact (as the CRM's users do); false when there is none. */
  update(id: string, changes: HubSpotProperties): boolean {
    const current = this.latest(id);
    if (!current) return false;
    const at = new Date(this.clock()).toISOString();
    const properties = withCalculated(id, { ...current.properties, ...changes }, current.createdAt);
    this.record(id, {
      ...current,
      properties: { ...properties, lastmodifieddate: at },
      updatedAt: at,
    });
    return true;
  }

  remove(id: string): void {
    if (this.latest(id)) this.record(id, undefined);
  }

  /** The contacts search sees now: each as it was `indexLagMs` ago, by id. */
  searchable(): HubSpotContact[] {
    const visibleAt = this.clock() - this.indexLagMs;
    const found: HubSpotContact[] = [];
    for (const history of this.versions.values()) {
      const version = history.findLast((v) => v.at <= visibleAt);
      if (version?.contact) found.push(version.contact);
    }
    return found.sort((a, b) => Number(a.id) - Number(b.id));
  }

  private latest(id: string): HubSpotContact | undefined {
    return this.versions.get(id)?.at(-1)?.contact;
  }

  private record(id: string, contact: HubSpotContact | undefined) {
    const history = this.versions.get(id) ?? [];
    history.push({ at: this.clock(), ...(contact ? { contact } : {}) });
    this.versions.set(id, history);
  }
}

/** Whether a contact passes one filter (a group passes when all its filters do). */
export function passes(contact: HubSpotContact, filter: HubSpotFilter): boolean {
  const value = contact.properties[filter.propertyName];
  const same = (a: unknown) =>
    typeof a === 'string' && value !== undefined && a.toLowerCase() === value.toLowerCase();
  switch (filter.operator) {
    case 'EQ':
      return same(filter.value);
    case 'NEQ':
      return !same(filter.value);
    case 'IN':
      return Array.isArray(filter.values) && filter.values.some(same);
    case 'HAS_PROPERTY':
      return value !== undefined && value !== '';
    case 'NOT_HAS_PROPERTY':
      return value === undefined || value === '';
    default:
      return false;
  }
}

function withCalculated(
  id: string,
  properties: HubSpotProperties,
  createdAt: string,
): HubSpotProperties {
  const calculated: HubSpotProperties = { ...properties, hs_object_id: id, createdate: createdAt };
  delete calculated.hs_searchable_calculated_phone_number;
  delete calculated.hs_searchable_calculated_mobile_number;
  // libphonenumber's national number, not the adapter's code: the stand-in and the adapter
  // must not agree merely because they share a function. Unreadable text keeps its digits.
  const searchable = (typed: string | undefined) => {
    if (!typed) return undefined;
    const parsed = parsePhoneNumberFromString(typed, 'US', PHONE_METADATA);
    return parsed?.nationalNumber ?? typed.replace(/\D/g, '');
  };
  const phone = searchable(properties.phone);
  const mobile = searchable(properties.mobilephone);
  if (phone) calculated.hs_searchable_calculated_phone_number = phone;
  if (mobile) calculated.hs_searchable_calculated_mobile_number = mobile;
  return calculated;
}
