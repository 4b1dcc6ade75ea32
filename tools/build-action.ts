import { buildAction } from '#infra/action-bundle.ts';

/** `npm run build:action`: writes the post-login Action as the one file Auth0 runs. */
buildAction().then(
  ({ path, code }) => process.stdout.write(`wrote ${path} (${code.length} bytes)\n`),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  },
);
