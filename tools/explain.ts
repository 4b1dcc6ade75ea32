import { ConfigError } from '#shared/config.ts';
import { type ExplainArgs, parseArgs, USAGE, UsageError } from './explain/args.ts';
import { diagnose } from './explain/diagnosis.ts';
import { type ProfileRead, profileReader } from './explain/profile.ts';
import { type Explanation, renderJson, renderText } from './explain/report.ts';
import { readExplainSettings } from './explain/settings.ts';
import {
  CouldNotAsk,
  fetchUserState,
  forceSync,
  type ResyncBody,
  type SyncApiTarget,
} from './explain/sync-api.ts';

/**
 * `npm run explain -- '<user_id>' [--resync] [--json]`: why a user has (or lacks) CRM claims and
 * what to do, in one sentence, from GET /v1/users of the sync API and, with M2M credentials, the
 * user's Auth0 profile. Exit codes: 0 explained (whatever the diagnosis), 1 could not ask, 2 usage.
 */

export interface ExplainOptions {
  /** For tests: the auth0 SDK's fetch, pointed at the Management API stand-in. */
  readonly auth0Fetch?: typeof fetch;
  /** Each call's bound, connect to last byte. Default 5 s. */
  readonly timeoutMs?: number;
  /** The diagnosis's now (is the profile's copy fresh?). Requests are signed in real time. */
  readonly clock?: () => number;
}

export interface ExplainRun {
  readonly exitCode: 0 | 1 | 2;
  readonly stdout: string;
  readonly stderr: string;
}

const DEFAULT_TIMEOUT_MS = 5_000;

export async function runExplain(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  options: ExplainOptions = {},
): Promise<ExplainRun> {
  let args: ExplainArgs | 'help';
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return { exitCode: 2, stdout: '', stderr: `${error.message}\n\n${USAGE}\n` };
  }
  if (args === 'help') return { exitCode: 0, stdout: `${USAGE}\n`, stderr: '' };
  try {
    const explanation = await explain(args, env, options);
    const text = args.json ? renderJson(explanation) : renderText(explanation);
    return { exitCode: 0, stdout: text, stderr: '' };
  } catch (error) {
    if (error instanceof UsageError) {
      return { exitCode: 2, stdout: '', stderr: `${error.message}\n\n${USAGE}\n` };
    }
    if (error instanceof CouldNotAsk || error instanceof ConfigError) {
      return { exitCode: 1, stdout: '', stderr: `explain: ${error.message}\n` };
    }
    throw error;
  }
}

async function explain(
  args: ExplainArgs,
  env: Readonly<Record<string, string | undefined>>,
  options: ExplainOptions,
): Promise<Explanation> {
  const settings = readExplainSettings(env);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const clock = options.clock ?? Date.now;
  const target: SyncApiTarget = {
    syncUrl: settings.syncUrl,
    secret: settings.secret,
    timeoutMs,
    whenUnreachable: settings.local
      ? 'is npm start running, on this PORT? (or set SYNC_API_URL)'
      : 'check SYNC_API_URL, and that this machine reaches it',
  };
  const { auth0 } = settings;
  const readProfile = auth0
    ? profileReader(auth0, settings.policy, {
        timeoutMs,
        ...(options.auth0Fetch ? { fetch: options.auth0Fetch } : {}),
      })
    : undefined;
  const profileOf = async (): Promise<ProfileRead | 'no_such_user' | 'not_read'> =>
    readProfile ? readProfile(args.userId) : 'not_read';

  // Read once: the resync does not write the profile (only the Action and the backfill do).
  const profile = await profileOf();
  const resync = args.resync ? await forceSync(target, resyncBody(args, profile)) : undefined;
  const service = await fetchUserState(target, args.userId);
  const facts = typeof profile === 'string' ? profile : profile.facts;
  const diagnosis = diagnose({ userId: args.userId, service, profile: facts, now: clock() });
  return { userId: args.userId, diagnosis, service, profile: facts, resync };
}

/** What the Action sends: the flags when given, else the profile's phone number and email. */
function resyncBody(
  args: ExplainArgs,
  profile: ProfileRead | 'no_such_user' | 'not_read',
): ResyncBody {
  if (args.phone !== undefined || args.email !== undefined) {
    return {
      user_id: args.userId,
      ...(args.phone === undefined ? {} : { phone_number: args.phone }),
      ...(args.email === undefined ? {} : { email: args.email }),
    };
  }
  if (profile === 'not_read') {
    throw new UsageError(
      '--resync needs the match key: set AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET to read it from the profile, or give --phone or --email',
    );
  }
  if (profile === 'no_such_user') {
    throw new CouldNotAsk(
      '--resync: the Auth0 tenant has no such user (check the id and AUTH0_DOMAIN)',
    );
  }
  if (profile.facts.match_key === null) {
    throw new CouldNotAsk(
      '--resync: the profile has no phone number or email the sync API can match on (see CRM_MATCH_KEYS); add one to the profile, or give --phone or --email',
    );
  }
  return { user_id: args.userId, ...profile.values };
}

if (process.argv[1]?.endsWith('explain.ts')) {
  runExplain(process.argv.slice(2), process.env).then(
    (run) => {
      process.stdout.write(run.stdout);
      process.stderr.write(run.stderr);
      process.exitCode = run.exitCode;
    },
    (error: unknown) => {
      // A bug of the tool, not an answer it could explain.
      process.stderr.write(
        `explain failed: ${(error as Error).name}: ${(error as Error).message}\n`,
      );
      process.exitCode = 1;
    },
  );
}
