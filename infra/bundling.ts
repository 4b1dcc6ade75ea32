/**
 * How every Lambda is bundled: one ESM file, minified, the AWS SDK included (the bundled,
 * tree-shaken copy loads faster than the runtime's full one). The CDK stack and the benchmark
 * both use these options, so the figures describe what is deployed.
 */
export const LAMBDA_NODE_TARGET = 'node24';

export const ESM_REQUIRE_SHIM =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

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
};
