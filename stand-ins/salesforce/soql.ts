/**
 * The part of SOQL a lookup uses, parsed as Salesforce does, so that a query the adapter builds
 * is held to the language and not to a pattern: `SELECT <fields> FROM <object> [WHERE <cond>]
 * [LIMIT <n>]`, where a condition is `<field> = '<literal>'`, `<field> IN ('<literal>', ...)`,
 * joined by AND and OR, with parentheses (SOQL and SOSL Reference, "SOQL SELECT Syntax",
 * https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/
 * sforce-api-calls-soql-select.html). Keywords and field names are case-insensitive.
 *
 * String literals follow "Quoted String Escape Sequences" (https://developer.salesforce.com/
 * docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-select-quotedstringescapes.html):
 * \n \r \t \b \f \" \' \\ and \uXXXX; "if you use a backslash character in any other context,
 * an error occurs". An unescaped quote ends the literal, so whatever follows it is SOQL: the
 * test an injection through a typed value must fail.
 */
export type Condition =
  | { readonly kind: 'eq'; readonly field: string; readonly value: string }
  | { readonly kind: 'in'; readonly field: string; readonly values: readonly string[] }
  | { readonly kind: 'and' | 'or'; readonly left: Condition; readonly right: Condition };

export interface SoqlQuery {
  readonly fields: readonly string[];
  readonly object: string;
  readonly where: Condition | undefined;
  readonly limit: number | undefined;
}

/** A query Salesforce would refuse as MALFORMED_QUERY. */
export class MalformedQuery extends Error {
  override readonly name = 'MalformedQuery';
}

type Token =
  | { readonly type: 'word'; readonly text: string }
  | { readonly type: 'string'; readonly text: string }
  | { readonly type: 'number'; readonly text: string }
  | { readonly type: 'symbol'; readonly text: string };

const ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  N: '\n',
  r: '\r',
  R: '\r',
  t: '\t',
  T: '\t',
  b: '\b',
  B: '\b',
  f: '\f',
  F: '\f',
  '"': '"',
  "'": "'",
  '\\': '\\',
};

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new MalformedQuery('unterminated string literal');
        const d = text[i] as string;
        if (d === "'") break;
        if (d === '\\') {
          const e = text[i + 1] ?? '';
          if (e === 'u' || e === 'U') {
            const hex = text.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new MalformedQuery('bad \\u escape');
            value += String.fromCharCode(Number.parseInt(hex, 16));
            i += 6;
            continue;
          }
          const escaped = ESCAPES[e];
          if (escaped === undefined) throw new MalformedQuery(`invalid escape \\${e}`);
          value += escaped;
          i += 2;
          continue;
        }
        value += d;
        i++;
      }
      i++;
      tokens.push({ type: 'string', text: value });
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i))?.[0] as string;
      tokens.push({ type: 'word', text: word });
      i += word.length;
    } else if (/\d/.test(c)) {
      const digits = /^\d+/.exec(text.slice(i))?.[0] as string;
      tokens.push({ type: 'number', text: digits });
      i += digits.length;
    } else if ('(),='.includes(c)) {
      tokens.push({ type: 'symbol', text: c });
      i++;
    } else {
      throw new MalformedQuery(`unexpected character ${JSON.stringify(c)}`);
    }
  }
  return tokens;
}

export function parseSoql(text: string): SoqlQuery {
  const tokens = tokenize(text);
  let at = 0;
  const peek = () => tokens[at];
  const isWord = (word: string) => {
    const token = peek();
    return token?.type === 'word' && token.text.toUpperCase() === word;
  };
  const expectWord = (word: string) => {
    if (!isWord(word)) throw new MalformedQuery(`expected ${word}`);
    at++;
  };
  const expectSymbol = (symbol: string) => {
    const token = peek();
    if (token?.type !== 'symbol' || token.text !== symbol)
      throw new MalformedQuery(`expected ${symbol}`);
    at++;
  };
  const name = (): string => {
    const token = peek();
    if (token?.type !== 'word') throw new MalformedQuery('expected a name');
    at++;
    return token.text;
  };
  const literal = (): string => {
    const token = peek();
    if (token?.type !== 'string') throw new MalformedQuery('expected a string literal');
    at++;
    return token.text;
  };
  const primary = (): Condition => {
    const token = peek();
    if (token?.type === 'symbol' && token.text === '(') {
      at++;
      const inner = condition();
      expectSymbol(')');
      return inner;
    }
    const field = name();
    if (isWord('IN')) {
      at++;
      expectSymbol('(');
      const values = [literal()];
      while (peek()?.type === 'symbol' && peek()?.text === ',') {
        at++;
        values.push(literal());
      }
      expectSymbol(')');
      return { kind: 'in', field, values };
    }
    expectSymbol('=');
    return { kind: 'eq', field, value: literal() };
  };
  const conjunction = (): Condition => {
    let left = primary();
    while (isWord('AND')) {
      at++;
      left = { kind: 'and', left, right: primary() };
    }
    return left;
  };
  const condition = (): Condition => {
    let left = conjunction();
    while (isWord('OR')) {
      at++;
      left = { kind: 'or', left, right: conjunction() };
    }
    return left;
  };

  expectWord('SELECT');
  const fields = [name()];
  while (peek()?.type === 'symbol' && peek()?.text === ',') {
    at++;
    fields.push(name());
  }
  expectWord('FROM');
  const object = name();
  let where: Condition | undefined;
  if (isWord('WHERE')) {
    at++;
    where = condition();
  }
  let limit: number | undefined;
  if (isWord('LIMIT')) {
    at++;
    const token = peek();
    if (token?.type !== 'number') throw new MalformedQuery('expected a number after LIMIT');
    at++;
    limit = Number(token.text);
  }
  if (at !== tokens.length) throw new MalformedQuery('unexpected text after the query');
  return { fields, object, where, limit };
}

/** Whether a record passes the condition; `read` gives a field's value by its name. */
export function holds(condition: Condition | undefined, read: (field: string) => unknown): boolean {
  if (condition === undefined) return true;
  // "comparisons are case-insensitive" for all but unique case-sensitive fields (SOQL
  // "Comparison Operators").
  const same = (value: unknown, literal: string) =>
    typeof value === 'string' && value.toLowerCase() === literal.toLowerCase();
  switch (condition.kind) {
    case 'eq':
      return same(read(condition.field), condition.value);
    case 'in':
      return condition.values.some((literal) => same(read(condition.field), literal));
    case 'and':
      return holds(condition.left, read) && holds(condition.right, read);
    case 'or':
      return holds(condition.left, read) || holds(condition.right, read);
  }
}

/** Every field a condition names. */
export function fieldsOf(condition: Condition | undefined): string[] {
  if (condition === undefined) return [];
  if (condition.kind === 'eq' || condition.kind === 'in') return [condition.field];
  return [...fieldsOf(condition.left), ...fieldsOf(condition.right)];
}
