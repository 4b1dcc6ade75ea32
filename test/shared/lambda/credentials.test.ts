import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultProvider } from '#shared/lambda/credentials.ts';

/** The Lambda bundles' credentials (aliased in for the SDK's default chain by infra/bundling.ts). */
afterEach(() => {
  vi.unstubAllEnvs();
});

describe("the Lambda bundles' default credentials", () => {
  it("are the execution role's, as Lambda hands them over in the environment", async () => {
    vi.stubEnv('AWS_PROFILE', '');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'ASIAEXAMPLEROLEKEY');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'role-secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'role-session');
    await expect(defaultProvider()()).resolves.toMatchObject({
      accessKeyId: 'ASIAEXAMPLEROLEKEY',
      secretAccessKey: 'role-secret',
      sessionToken: 'role-session',
    });
  });

  it('fail with a message naming the environment when it holds none: nothing else is tried', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', '');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', '');
    vi.stubEnv('AWS_CONTAINER_CREDENTIALS_FULL_URI', 'http://127.0.0.1:9/creds');
    await expect(defaultProvider()()).rejects.toThrow(
      'Unable to find environment variable credentials.',
    );
  });
});
