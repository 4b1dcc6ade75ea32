/**
 * How every Lambda is bundled: one ESM file, minified, the AWS SDK included (the bundled,
 * tree-shaken copy loads faster than the runtime's full one). The CDK stack and the benchmark
 * both use these options, so the figures describe what is deployed.
 */
export const LAMBDA_NODE_TARGET = 'node24';

export const ESM_REQUIRE_SHIM =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/**
 * Node's built-in modules that a bundle reaches through `require` instead of `import`. An ESM
 * import of a built-in builds its module facade, which reads every export, lazy ones included:
 * node:http's WebSocket, CloseEvent and MessageEvent load and compile all of undici (about
 * 50 ms), node:process's stdin, stdout and stderr open the standard streams (about 10 ms), and
 * node:fs, node:util and node:zlib cost a few milliseconds more; required, they cost what they
 * always did (`npm run bench -- --only=cold`). Each shim is one line,
 * `module.exports = process.getBuiltinModule('node:<name>')`: esbuild wraps it as CommonJS, so
 * importers read the exports they use when they use them.
 */
const REQUIRED_BUILTINS = ['http', 'process', 'fs', 'util', 'zlib'] as const;

/**
 * Modules the Lambda bundles replace, by import path, with a file of this repository (paths
 * from the project root, where the CDK and the benchmark run esbuild): the SDK's default
 * credential chain becomes the environment alone (shared/lambda/credentials.ts), and the
 * built-ins above are required.
 */
export const LAMBDA_MODULE_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': './shared/lambda/credentials.ts',
  ...Object.fromEntries(
    REQUIRED_BUILTINS.flatMap((name) => [
      [`node:${name}`, `./shared/lambda/node-${name}.cjs`],
      [name, `./shared/lambda/node-${name}.cjs`],
    ]),
  ),
  // An alias of `fs` applies to `fs/promises` too, as a path under it: that one is named.
  'node:fs/promises': './shared/lambda/node-fs-promises.cjs',
  'fs/promises': './shared/lambda/node-fs-promises.cjs',
};

export const lambdaBundleOptions = {
  bundle: true,
  platform: 'node' as const,
  target: LAMBDA_NODE_TARGET,
  format: 'esm' as const,
  minify: true,
  sourcemap: false,
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_SHIM },
  legalComments: 'none' as const,
  alias: { ...LAMBDA_MODULE_ALIASES },
};

/** The same aliases as esbuild command-line arguments, for NodejsFunction's `esbuildArgs`. */
export const LAMBDA_ESBUILD_ARGS = {
  '--alias': Object.entries(LAMBDA_MODULE_ALIASES).map(([name, file]) => `${name}=${file}`),
};
