import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';

// Runs in each test worker: what the code writes to stdout/stderr (Powertools Logger writes
// straight to process.stdout) goes to the capture folder instead of the terminal.
const file = join(inject('logCaptureDir'), `worker-${process.pid}.log`);

for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream);
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    appendFileSync(file, typeof chunk === 'string' ? chunk : Buffer.from(chunk));
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    // Structured log lines are kept out of the test output; anything else still shows.
    if (text.startsWith('{')) return true;
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof stream.write;
}

// console.* is routed by vitest itself; record it as well.
for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    appendFileSync(
      file,
      `${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`,
    );
    original(...args);
  };
}
