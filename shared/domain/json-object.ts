/**
 * The JSON object `text` holds, or undefined when it is not JSON or not an object (an array,
 * a string, null): what a CRM answer and a JSON setting must both be.
 */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  return parsed as Record<string, unknown>;
}
