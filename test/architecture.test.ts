import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layering docs/architecture.md describes, checked on the tree itself: who may import whom,
 * how big a file may grow, and that the README's layout names the folders that exist.
 */

const ROOT = normalize(join(import.meta.dirname, '..'));
const CODE_DIRS = ['shared', 'functions', 'infra', 'stand-ins', 'local', 'tools', 'bench', 'test'];

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return filesUnder(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const files = CODE_DIRS.flatMap(filesUnder);

/** The project files a file imports (package imports and external modules left out). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]);
  return specifiers.flatMap((specifier) => {
    if (specifier === undefined) return [];
    if (specifier.startsWith('#')) return [specifier.slice(1)];
    if (specifier.startsWith('.')) return [normalize(join(dirname(file), specifier))];
    return [];
  });
}

/** The room a file lives in: a function's folder, a part of shared/, or a top-level folder. */
function roomOf(path: string): string {
  const [top, second] = path.split('/');
  if (top === 'functions' || (top === 'shared' && second && !second.endsWith('.ts'))) {
    return `${top}/${second}`;
  }
  return top ?? path;
}

/** Which rooms each room may import, beside its own. */
const MAY_IMPORT: Record<string, (room: string) => boolean> = {
  'shared/domain': () => false,
  'shared/adapters': (r) => r === 'shared/domain' || r === 'shared',
  'shared/composition': (r) => r.startsWith('shared'),
  shared: (r) => r.startsWith('shared'),
  functions: (r) => r.startsWith('shared'),
  // The CDK app bundles Lambda code by path; it imports settings and names, not Lambda code.
  infra: (r) => r === 'shared' || r === 'shared/domain',
  'stand-ins': (r) => r.startsWith('shared') || r.startsWith('functions/'),
  local: (r) =>
    r.startsWith('shared') || r.startsWith('functions/') || r === 'infra' || r === 'stand-ins',
  tools: (r) => r.startsWith('shared') || r === 'infra',
  bench: (r) => r !== 'test',
  test: () => true,
};

function ruleFor(room: string): (imported: string) => boolean {
  const rule = MAY_IMPORT[room] ?? MAY_IMPORT[room.split('/')[0] ?? ''];
  if (!rule) throw new Error(`no layering rule for ${room}`);
  return rule;
}

describe('the layering', () => {
  it('every import goes down a layer or stays in its room', () => {
    const wrong = files.flatMap((file) => {
      const room = roomOf(file);
      const allowed = ruleFor(room);
      return importsOf(file)
        .map((target) => ({ target, to: roomOf(target) }))
        .filter(({ to }) => to !== room && !allowed(to))
        .map(({ target }) => `${file} → ${target}`);
    });
    expect(wrong).toEqual([]);
  });

  it('the domain imports no AWS SDK, HTTP client or Auth0 SDK', () => {
    const wrong = files
      .filter((file) => file.startsWith('shared/domain/'))
      .filter((file) =>
        /from '(@aws-sdk\/|auth0'|node:http|node:https|@middy|@aws-lambda-powertools)/.test(
          readFileSync(join(ROOT, file), 'utf8'),
        ),
      );
    expect(wrong).toEqual([]);
  });

  it('every import names a file that exists', () => {
    const missing = files.flatMap((file) =>
      importsOf(file)
        .filter((target) => {
          try {
            return !statSync(join(ROOT, target)).isFile();
          } catch {
            return true;
          }
        })
        .map((target) => `${file} → ${target}`),
    );
    expect(missing).toEqual([]);
  });
});

describe('the tree', () => {
  it('no file is longer than about 400 lines', () => {
    const long = files
      .map((file) => ({ file, lines: readFileSync(join(ROOT, file), 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 420)
      .map(({ file, lines }) => `${file}: ${lines}`);
    expect(long).toEqual([]);
  });

  it("the README's layout section names every folder of the tree, and only those", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Project layout'));
    const block = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const named = new Set(
      [...block.matchAll(/^([a-z][\w.-]*(?:\/[\w.-]+)*)\/\s/gm)].map((m) => m[1] as string),
    );
    const folders = [...CODE_DIRS, 'docs', 'types'].flatMap((top) => [
      top,
      ...readdirSync(join(ROOT, top))
        .filter((name) => statSync(join(ROOT, top, name)).isDirectory())
        .filter(() => top !== 'test')
        .map((name) => `${top}/${name}`),
    ]);
    expect(folders.filter((f) => !named.has(f))).toEqual([]);
    expect([...named].filter((f) => !folders.includes(f))).toEqual([]);
  });
});
