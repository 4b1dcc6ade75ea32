import { vi } from 'vitest';

// biome-ignore lint/suspicious/noExplicitAny: tests read log lines by their documented shape
export type LogLine = Record<string, any>;

/**
 * Runs `fn` and returns the structured log lines written meanwhile (Powertools writes JSON
 * lines, INFO to stdout and WARN and above to stderr). The lines still go on to the run's log
 * capture, which checks them for personal data and secrets.
 */
export async function captureLogLines<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; lines: LogLine[] }> {
  const spies = [vi.spyOn(process.stdout, 'write'), vi.spyOn(process.stderr, 'write')];
  let result: T;
  let calls: unknown[][];
  try {
    result = await fn();
  } finally {
    // Restoring a spy clears what it recorded: read it first.
    calls = spies.flatMap((spy) => [...spy.mock.calls]);
    for (const spy of spies) spy.mockRestore();
  }
  // Interleaving between the two streams is lost; within each the order is kept.
  const lines = calls
    .map(([chunk]) => chunk as string | Uint8Array)
    .map((chunk) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')))
    .flatMap((text) => text.split('\n'))
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
  return { result, lines };
}
