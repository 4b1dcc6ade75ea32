import { isUserId } from '#shared/domain/sync-request.ts';

export interface ExplainArgs {
  readonly userId: string;
  readonly resync: boolean;
  readonly json: boolean;
  /** For --resync without Auth0 credentials; never printed. */
  readonly phone?: string;
  readonly email?: string;
}

/** A command line the tool cannot act on: exit code 2, with the usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `usage: npm run explain -- '<user_id>' [--resync [--phone <number>] [--email <address>]] [--json]

  Says why an Auth0 user has (or lacks) CRM claims, and what to do.
  --resync  asks the CRM now (a forced POST /v1/sync), then explains again; the match key comes
            from the Auth0 profile (AUTH0_DOMAIN, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET), or from
            --phone / --email
  --json    one JSON object, for scripts

  Settings: SYNC_API_URL (https; plain http only to this machine) and SYNC_SIGNING_SECRET
  (default: the local stack of npm start),
  CRM_MATCH_KEYS and DEFAULT_PHONE_COUNTRY as the sync service has them.
  Exit codes: 0 explained, 1 could not ask, 2 usage.`;

/** The command line, or `help`. Values given with flags are never echoed in an error. */
export function parseArgs(argv: readonly string[]): ExplainArgs | 'help' {
  let userId: string | undefined;
  let resync = false;
  let json = false;
  let phone: string | undefined;
  let email: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.startsWith('--') ? splitFlag(arg) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--help' || flag === '-h') return 'help';
    else if (flag === '--resync') resync = true;
    else if (flag === '--json') json = true;
    else if (flag === '--phone') phone = value();
    else if (flag === '--email') email = value();
    else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${flag}`);
    else if (userId === undefined) userId = arg;
    else throw new UsageError('one user id at a time');
  }
  if (userId === undefined) throw new UsageError('which user? give an Auth0 user id');
  // The id is printed in every answer: anything else (a phone number, an email pasted by
  // mistake) is refused without being echoed.
  if (!isUserId(userId) || !userId.includes('|')) {
    throw new UsageError(
      'the first argument must be an Auth0 user id such as sms|64f0c0ffee or auth0|64f0c0ffee (find it in the Auth0 dashboard under User Management > Users)',
    );
  }
  if ((phone !== undefined || email !== undefined) && !resync) {
    throw new UsageError('--phone and --email go with --resync');
  }
  return {
    userId,
    resync,
    json,
    ...(phone === undefined ? {} : { phone }),
    ...(email === undefined ? {} : { email }),
  };
}

function splitFlag(arg: string): [string, string | undefined] {
  const eq = arg.indexOf('=');
  return eq < 0 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}
