/**
 * What EventBridge Scheduler accepts as a ScheduleExpression, checked at `cdk synth` so a bad
 * backfillSchedule fails there, naming the part that is wrong, instead of rolling back a deploy.
 *
 * Sources: "Schedule types on EventBridge Scheduler"
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html): `rate(value
 * unit)`, `cron(minutes hours day-of-month month day-of-week year)` and `at(yyyy-mm-ddThh:mm:ss)`;
 * the cron fields, their values and wildcards are the table of "Cron expressions"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html),
 * which the Scheduler page follows.
 */

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** The wildcards the field takes besides `,` and `-`. */
  readonly wildcards: string;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const CRON_FIELDS: readonly CronField[] = [
  { name: 'minutes', min: 0, max: 59, wildcards: '* /' },
  { name: 'hours', min: 0, max: 23, wildcards: '* /' },
  { name: 'day-of-month', min: 1, max: 31, wildcards: '* ? / L W' },
  { name: 'month', min: 1, max: 12, names: MONTHS, wildcards: '* /' },
  { name: 'day-of-week', min: 1, max: 7, names: WEEKDAYS, wildcards: '* ? L #' },
  { name: 'year', min: 1970, max: 2199, wildcards: '* /' },
];

const EXAMPLES = 'e.g. cron(0 3 * * ? *), rate(12 hours), at(2027-01-31T03:00:00)';

/** Why EventBridge Scheduler would refuse `expression`, or undefined when it is well formed. */
export function scheduleExpressionProblem(expression: string): string | undefined {
  const match = /^(cron|rate|at)\((.*)\)$/.exec(expression);
  if (!match) return `"${expression}" is not cron(…), rate(…) or at(…): ${EXAMPLES}`;
  const [, kind, body = ''] = match;
  if (kind === 'rate') return rateProblem(body);
  if (kind === 'at') return atProblem(body);
  return cronProblem(body);
}

/** `rate(1 hour)`, `rate(5 minutes)`: a positive whole number, singular unit for 1, plural else. */
function rateProblem(body: string): string | undefined {
  const match = /^([1-9]\d*) (minute|hour|day)(s?)$/.exec(body);
  if (!match) {
    return `rate(${body}) is not rate(<positive whole number> minute(s)|hour(s)|day(s)), e.g. rate(1 hour), rate(5 minutes)`;
  }
  const [, value, unit, plural] = match;
  const wanted = value === '1' ? unit : `${unit}s`;
  if (`${unit}${plural}` !== wanted)
    return `rate(${body}) must be written rate(${value} ${wanted})`;
  return undefined;
}

/** `at(2027-01-31T03:00:00)`: a real date and time, without seconds' fraction or zone. */
function atProblem(body: string): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body);
  if (match) {
    const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    // Date.UTC rolls 2027-02-30 over to March: a date that comes back changed is not real.
    const written = [year, month, day, hour, minute, second];
    const read = [
      date.getUTCFullYear(),
      date.getUTCMonth() + 1,
      date.getUTCDate(),
      date.getUTCHours(),
      date.getUTCMinutes(),
      date.getUTCSeconds(),
    ];
    if (written.every((part, i) => part === read[i])) return undefined;
  }
  return `at(${body}) is not at(yyyy-mm-ddThh:mm:ss) with a real date and time, e.g. at(2027-01-31T03:00:00) (the time zone is backfillScheduleTimeZone)`;
}

function cronProblem(body: string): string | undefined {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) {
    return `cron(${body}) has ${fields.length} field${fields.length === 1 ? '' : 's'}; it needs 6: minutes hours day-of-month month day-of-week year, e.g. cron(0 3 * * ? *)`;
  }
  for (const [index, field] of CRON_FIELDS.entries()) {
    const problem = fieldProblem(fields[index] ?? '', field);
    if (problem !== undefined) return `cron(${body}): ${field.name} "${fields[index]}" ${problem}`;
  }
  const [, , dayOfMonth, , dayOfWeek] = fields;
  // "You can't specify the Day-of-month and Day-of-week fields in the same cron expression. If
  // you specify a value or a * in one of the fields, you must use a ? in the other."
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
    return `cron(${body}): exactly one of day-of-month and day-of-week must be ?, e.g. cron(0 3 * * ? *) (every day) or cron(0 3 ? * MON *) (Mondays)`;
  }
  return undefined;
}

function fieldProblem(text: string, field: CronField): string | undefined {
  const accepted = `takes ${field.min}-${field.max}${field.names ? ` or ${field.names[0]}-${field.names.at(-1)}` : ''} and the wildcards , - ${field.wildcards}`;
  if (text === '?') return field.wildcards.includes('?') ? undefined : accepted;
  const items = text.split(',');
  // "If you use the '#' character, you can define only one expression in the day-of-week field."
  if (items.length > 1 && text.includes('#')) return 'with # takes a single expression';
  for (const item of items) {
    if (!itemIsValid(item, field)) return accepted;
  }
  return undefined;
}

function itemIsValid(item: string, field: CronField): boolean {
  const has = (wildcard: string) => field.wildcards.split(' ').includes(wildcard);
  if (field.name === 'day-of-month' && has('L')) {
    // L (last day), LW (last weekday), 15W (the weekday nearest the 15th).
    if (item === 'L' || item === 'LW') return true;
    const weekday = /^(\d+)W$/.exec(item);
    if (weekday) return isInRange(weekday[1] ?? '', field);
  }
  if (field.name === 'day-of-week') {
    if (item === 'L') return true;
    const last = /^(\w+)L$/.exec(item);
    if (last) return isInRange(last[1] ?? '', field);
    const nth = /^(\w+)#([1-5])$/.exec(item);
    if (nth) return isInRange(nth[1] ?? '', field);
  }
  const [range = '', step, extra] = item.split('/');
  if (extra !== undefined) return false;
  if (step !== undefined && (!has('/') || !/^[1-9]\d*$/.test(step))) return false;
  if (range === '*') return true;
  const bounds = range.split('-');
  if (bounds.length > 2) return false;
  return bounds.every((bound) => isInRange(bound, field));
}

function isInRange(text: string, field: CronField): boolean {
  const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named !== -1) return true;
  if (!/^\d+$/.test(text)) return false;
  const value = Number(text);
  return value >= field.min && value <= field.max;
}
