import { SAMPLE_CONTACTS } from '../demo-data.ts';
import { fieldsOf, holds, type SoqlQuery } from './soql.ts';

/** A record as stored: canonical field names; `Account` is the parent's fields, or absent. */
export type SalesforceRecord = Record<
  string,
  string | number | boolean | null | Record<string, unknown>
>;

/**
 * The org's data model, as the run-as user sees it: Contact's standard fields (Object
 * Reference, "Contact": Id, FirstName, LastName, Name, Email, Phone, MobilePhone, Title,
 * AccountId and the Account relationship) and a custom field, Loyalty_Tier__c. `Name` is the
 * compound name, read-only and queryable. Field-level security can hide fields from the run-as
 * user: a hidden field is, to SOQL, one that does not exist ("No such column"). (Salesforce's
 * reference says a query needs read access to each field; that the error is the missing
 * field's INVALID_FIELD comes from third-party pages.)
 */
const CONTACT_FIELDS = [
  'Id',
  'FirstName',
  'LastName',
  'Name',
  'Email',
  'Phone',
  'MobilePhone',
  'Title',
  'AccountId',
  'Loyalty_Tier__c',
];
const ACCOUNT_FIELDS = ['Id', 'Name'];

export class SalesforceOrg {
  private readonly contacts = new Map<string, SalesforceRecord>();
  private readonly accounts = new Map<string, SalesforceRecord>();
  private next = 1;
  /** Fields field-level security hides from the run-as user. */
  readonly hiddenFields = new Set<string>();

  /** The sample people, their numbers typed as people type them (the US locale's format first). */
  seedDemo(): void {
    const account = this.addAccount('Analytical Engines Ltd');
    // Outside the NANP only ungrouped forms are matched (phone-forms.ts): Katherine's is E.164.
    const typed = ['(555) 010-0001', '555-010-0002', '+1 555 010 0003', '+447700900123'];
    SAMPLE_CONTACTS.forEach((contact, i) => {
      const [FirstName = '', LastName = ''] = contact.name.split(' ');
      this.addContact({
        FirstName,
        LastName,
        Email: contact.email,
        Phone: typed[i] ?? contact.phone,
        Title: 'Engineer',
        Loyalty_Tier__c: contact.tier,
        AccountId: account,
      });
    });
  }

  addAccount(name: string): string {
    const Id = this.id('001');
    this.accounts.set(Id, { Id, Name: name });
    return Id;
  }

  /** Adds a Contact; its 18-character id. */
  addContact(fields: Record<string, string | null>): string {
    const Id = this.id('003');
    this.contacts.set(Id, { Id, ...fields });
    return Id;
  }

  updateContact(id: string, fields: Record<string, string | null>): void {
    const current = this.contacts.get(id);
    if (current) this.contacts.set(id, { ...current, ...fields });
  }

  deleteContact(id: string): void {
    this.contacts.delete(id);
  }

  query(
    query: SoqlQuery,
    version: string,
  ):
    | { totalSize: number; done: boolean; records: unknown[] }
    | { errorCode: string; message: string } {
    if (query.object.toLowerCase() !== 'contact') {
      return {
        errorCode: 'INVALID_TYPE',
        message: `sObject type '${query.object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.`,
      };
    }
    // "the fieldList cannot contain duplicate field names" (SOAP API Developer Guide, "query()",
    // developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_partner_queries.htm);
    // names compare without regard to case.
    const seen = new Set<string>();
    for (const path of query.fields) {
      const name = this.resolve(path)?.join('.') ?? path.toLowerCase();
      if (seen.has(name.toLowerCase())) {
        return { errorCode: 'INVALID_FIELD', message: `duplicate field selected: ${path}` };
      }
      seen.add(name.toLowerCase());
    }
    for (const path of [...query.fields, ...fieldsOf(query.where)]) {
      if (this.resolve(path) === undefined) {
        return {
          errorCode: 'INVALID_FIELD',
          message: `No such column '${path}' on entity 'Contact'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`,
        };
      }
    }
    const matching = [...this.contacts.values()].filter((contact) =>
      holds(query.where, (field) => this.read(contact, this.resolve(field) as string[])),
    );
    const records = matching.slice(0, query.limit ?? matching.length).map((contact) => {
      const record: Record<string, unknown> = {
        attributes: {
          type: 'Contact',
          url: `/services/data/v${version}/sobjects/Contact/${contact.Id}`,
        },
      };
      for (const path of query.fields) {
        const [first, second] = this.resolve(path) as string[];
        if (second === undefined) {
          record[first as string] = this.read(contact, [first as string]);
          continue;
        }
        const account = this.accounts.get(String(contact.AccountId));
        const parent =
          (record.Account as Record<string, unknown> | null | undefined) ??
          (account
            ? {
                attributes: {
                  type: 'Account',
                  url: `/services/data/v${version}/sobjects/Account/${account.Id}`,
                },
              }
            : null);
        if (parent) parent[second] = account?.[second] ?? null;
        record.Account = parent;
      }
      return record;
    });
    // With LIMIT, totalSize counts the records returned; one batch holds up to 2,000 ("Query").
    return { totalSize: records.length, done: true, records };
  }

  /** A field path in canonical case, or undefined when the run-as user cannot see it. */
  private resolve(path: string): string[] | undefined {
    const canonical = (name: string, fields: readonly string[]) =>
      fields.find((f) => f.toLowerCase() === name.toLowerCase());
    const [first = '', second, ...rest] = path.split('.');
    if (rest.length > 0) return undefined;
    if (second === undefined) {
      const field = canonical(first, CONTACT_FIELDS);
      return field && !this.hiddenFields.has(field) ? [field] : undefined;
    }
    if (first.toLowerCase() !== 'account') return undefined;
    const field = canonical(second, ACCOUNT_FIELDS);
    return field ? ['Account', field] : undefined;
  }

  private read(contact: SalesforceRecord, path: readonly string[]): unknown {
    const [first, second] = path as [string, string | undefined];
    if (second !== undefined) return this.accounts.get(String(contact.AccountId))?.[second] ?? null;
    if (first === 'Name')
      return [contact.FirstName, contact.LastName].filter(Boolean).join(' ') || null;
    return contact[first] ?? null;
  }

  /** Salesforce ids: a 3-character key prefix (003 Contact, 001 Account), 18 characters in all. */
  private id(prefix: string): string {
    return `${prefix}Dl${String(this.next++).padStart(10, '0')}AAA`;
  }
}
