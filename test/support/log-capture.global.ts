import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { forbiddenStrings } from './pii.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    logCaptureDir: string;
  }
}

const EMAIL = /[\w.+-]+@[\w-]+\.[\w.-]+/;

/**
 * Every byte the code under test writes to stdout/stderr is captured (log-capture.setup.ts).
 * After the whole run this fails it if any of those logs holds a phone number, email or secret.
 */
export default function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'crm-sync-logs-'));
  project.provide('logCaptureDir', dir);
  return () => {
    const files = readdirSync(dir).map((f) => ({
      name: f,
      text: readFileSync(join(dir, f), 'utf8'),
    }));
    rmSync(dir, { recursive: true, force: true });
    const logs = files.map((f) => f.text).join('');
    const leaks = forbiddenStrings().filter((s) => logs.includes(s));
    const email = EMAIL.exec(logs);
    if (email) leaks.push(email[0]);
    const lines = logs.split('\n').filter((l) => l.trim()).length;
    if (leaks.length > 0) {
      // Where to look: the first offending line, cut short.
      const first = files
        .flatMap((f) =>
          f.text.split('\n').map((line, i) => ({ where: `${f.name}:${i + 1}`, line })),
        )
        .find(({ line }) => leaks.some((leak) => line.includes(leak)));
      throw new Error(
        `captured logs (${lines} lines) leak personal data or secrets: ${leaks.join(', ')}; first at ${first?.where}: ${first?.line.slice(0, 200)}`,
      );
    }
    process.stdout.write(
      `log capture: ${lines} log lines checked, no phone number, email or secret\n`,
    );
  };
}
