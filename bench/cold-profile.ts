import { readdirSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';

/** A V8 CPU profile as `node --cpu-prof` writes it (the Chrome DevTools Profiler.Profile type). */
interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
    readonly columnNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  /** Microseconds on the monotonic clock `process.hrtime` reads. */
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/**
 * Where a cold start's CPU time goes, by package: each sample is charged to the package whose
 * source the sampled function starts in (mapped back through the bundle's source map); time in
 * Node's own code (loading built-ins, streams, writing a request) to the nearest bundled caller's
 * package. What has no bundled caller is Node's bootstrap, compiling the bundle, work in libuv
 * callbacks (socket reads, TLS), the garbage collector, or idle (waiting for I/O). The bundle's
 * hoisted module initialisation has no function of its own: it shows as "(bundle top level)".
 */
export function cpuTimeByPackage(
  profileDir: string,
  bundleFile: string,
  invokedAtUs: number,
): Map<string, { init: number; request: number }> {
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile in ${profileDir}`);
  const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile;
  const map = new SourceMap(JSON.parse(readFileSync(`${bundleFile}.map`, 'utf8')));
  const bundleName = basename(bundleFile);
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const own = (id: number): string | undefined => {
    const { url, lineNumber, columnNumber } = (byId.get(id) as CpuProfileNode).callFrame;
    if (!url.endsWith(bundleName)) return undefined;
    const found = map.findEntry(lineNumber, columnNumber) as { originalSource?: string };
    return found.originalSource
      ? packageOf(resolve(dirname(bundleFile), found.originalSource))
      : '(bundle top level)';
  };
  const owner = new Map<number, string>();
  const ownerOf = (id: number): string => {
    const known = owner.get(id);
    if (known !== undefined) return known;
    let name = own(id);
    if (name === undefined) {
      const up = parent.get(id);
      const { functionName, url } = (byId.get(id) as CpuProfileNode).callFrame;
      const fallback = functionName.startsWith('(')
        ? functionName
        : url.endsWith('runner.mjs')
          ? '(runner)'
          : '(node: no bundled caller: bootstrap, compiling, sockets)';
      name = up === undefined ? fallback : ownerOf(up);
      if (name === '(root)') name = fallback;
    }
    owner.set(id, name);
    return name;
  };
  // Before the handler was invoked is the init (import); after, the first request.
  const totals = new Map<string, { init: number; request: number }>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    const name = ownerOf(id);
    const sum = totals.get(name) ?? { init: 0, request: 0 };
    if (at < invokedAtUs) sum.init += delta / 1000;
    else sum.request += delta / 1000;
    totals.set(name, sum);
  });
  return totals;
}

/** `…/node_modules/@smithy/core/…` → `@smithy/*`; `…/shared/domain/x.ts` → `(this project) shared/domain/x.ts`. */
function packageOf(source: string): string {
  const at = source.lastIndexOf('/node_modules/');
  if (at < 0) return `(this project) ${relative(process.cwd(), source)}`;
  const parts = source.slice(at + '/node_modules/'.length).split('/');
  const scope = parts[0] ?? '';
  if (scope === '@smithy' || scope === '@aws-crypto') return `${scope}/*`;
  if (scope === '@aws-sdk') {
    const name = parts[1] ?? '';
    return name.startsWith('client-')
      ? `@aws-sdk/${name}`
      : '@aws-sdk/* (core, middleware, credentials)';
  }
  return scope.startsWith('@') ? `${scope}/${parts[1]}` : scope;
}
