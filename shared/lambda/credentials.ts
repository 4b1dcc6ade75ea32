import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * What the Lambda bundles use in place of `@aws-sdk/credential-provider-node` (infra/bundling.ts
 * aliases it): the SDK clients' default credentials, read from the environment only.
 *
 * Lambda hands a function its execution role's credentials in AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN ("Defined runtime environment variables",
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime),
 * the first link of the SDK's default chain. The rest of that chain (SSO, INI files, credential
 * processes, web identity, the container and instance metadata services, and the STS, SSO and
 * sign-in clients they bring) never answers in Lambda, yet made up about a fifth of the sync
 * bundle and was parsed by every new instance (`npm run bench -- --only=cold`). The clients,
 * their signing and their refresh of expiring credentials are the SDK's own, unchanged.
 *
 * Without those variables the first AWS call fails with the SDK's CredentialsProviderError
 * ("Unable to find environment variable credentials."): this bundle runs in Lambda only. The
 * local stack and the tests run the sources, where the SDK's full chain is in place.
 */
export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]): ReturnType<typeof fromEnv> =>
  fromEnv(init);
