import * as z from 'zod/mini';
import { parseJsonObject } from '#shared/domain/json-object.ts';

/**
 * CDK context comes two ways: cdk.json gives JSON types, `-c key=value` always gives a string.
 * These schemas accept both forms of one value and nothing else, so `-c installAction=yes` or
 * `-c apiRateLimit=ten` is refused with what the setting accepts, instead of being coerced
 * (`Number('')` is 0, `Number(true)` is 1) or crashing in JSON.parse.
 */

const BOOLEAN_ACCEPTED = 'must be true or false';

/** A boolean, or the string `true` / `false` that `-c key=true` gives. */
export const contextBoolean = (fallback: boolean) =>
  z._default(
    z.pipe(
      z.transform((value: unknown) =>
        value === 'true' ? true : value === 'false' ? false : value,
      ),
      z.boolean({ error: BOOLEAN_ACCEPTED }),
    ),
    fallback,
  );

/** The same without a default: unset stays undefined, so the stack can tell "not said". */
export const contextOptionalBoolean = () =>
  z.optional(
    z.pipe(
      z.transform((value: unknown) =>
        value === 'true' ? true : value === 'false' ? false : value,
      ),
      z.boolean({ error: BOOLEAN_ACCEPTED }),
    ),
  );

/** A decimal number as `-c` writes it: `-c x=10` is 10; `-c x=1e3`, `-c x=0x10` and `-c x=` are not. */
function numberOf(value: unknown): unknown {
  return typeof value === 'string' && /^\s*[+-]?\d+(\.\d+)?\s*$/.test(value)
    ? Number(value)
    : value;
}

function wholeNumber(min: number, max: number) {
  const accepted = `must be a whole number from ${min} to ${max}`;
  return z.pipe(
    z.transform(numberOf),
    z
      .number({ error: accepted })
      .check(z.int(accepted), z.minimum(min, accepted), z.maximum(max, accepted)),
  );
}

/** A whole number in [min, max], as a JSON number or the digits `-c` gives. */
export const contextInt = (min: number, max: number, fallback: number) =>
  z._default(wholeNumber(min, max), fallback);

export const optionalContextInt = (min: number, max: number) => z.optional(wholeNumber(min, max));

/** One of a fixed list of whole numbers (e.g. the retention periods CloudWatch Logs accepts). */
export const contextIntOneOf = (values: readonly number[], fallback: number, why: string) => {
  const accepted = `must be one of ${values.join(', ')} (${why})`;
  return z._default(
    z.pipe(
      z.transform(numberOf),
      z.number({ error: accepted }).check(z.refine((n) => values.includes(n), accepted)),
    ),
    fallback,
  );
};

/**
 * A JSON object of strings: an object in cdk.json, or its JSON text from `-c key='{"a":"b"}'`.
 * Text that is not a JSON object is refused with the example, never with JSON.parse's stack.
 */
export const contextStringRecord = (fallback: Record<string, string>, example: string) => {
  const accepted = `must be a JSON object of strings, e.g. ${example}`;
  return z._default(
    z.pipe(
      z.transform((value: unknown, ctx) => {
        if (typeof value !== 'string') return value;
        const parsed = parseJsonObject(value);
        if (parsed === undefined) {
          ctx.issues.push({
            code: 'custom',
            message: `${accepted} (the text given is not a JSON object)`,
            input: value,
          });
          return z.NEVER;
        }
        return parsed;
      }),
      z.record(z.string(), z.string({ error: accepted }), { error: accepted }),
    ),
    fallback,
  );
};

/** A check whose message depends on the value: `problem` returns it, or undefined when fine. */
export function explained<T>(problem: (value: T) => string | undefined) {
  return z.superRefine((value: T, ctx) => {
    const message = problem(value);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message, input: value });
  });
}

/**
 * A list of AWS ids: a JSON array in cdk.json, or `-c key=a,b` (commas, spaces allowed). Each
 * must match `id`; an empty list counts as unset, a repeated id is refused.
 */
export const optionalContextIdList = (id: RegExp, accepted: string) =>
  z.optional(
    z.pipe(
      z.transform((value: unknown) => {
        const list =
          typeof value === 'string'
            ? value
                .split(',')
                .map((item) => item.trim())
                .filter((item) => item !== '')
            : value;
        return Array.isArray(list) && list.length === 0 ? undefined : list;
      }),
      z.optional(
        z.array(z.string(), { error: `must be a list of ${accepted}` }).check(
          explained((ids: string[]) => {
            const wrong = ids.find((item) => !id.test(item));
            if (wrong !== undefined) return `"${wrong}" is not one of the ${accepted}`;
            const repeated = ids.find((item, index) => ids.indexOf(item) !== index);
            if (repeated !== undefined) return `"${repeated}" is given twice`;
            return undefined;
          }),
        ),
      ),
    ),
  );
