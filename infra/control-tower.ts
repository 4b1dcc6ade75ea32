import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import {
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
  Validations,
} from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * AWS Control Tower's proactive controls, checked at synth: the cfn-guard rules that
 * @cdklabs/cdk-validator-cfnguard bundles (a snapshot of the rule files Control Tower's
 * CloudFormation hooks run, taken with that package's version, and cfn-guard 3.1.1 itself),
 * offline. An organization that turns a control on refuses a
 * resource that breaks it at deploy time; here the same rule fails `cdk synth` first.
 *
 * The bundled validator names each finding by its rule (`lambda_inside_vpc_check`); this plugin
 * names it by the control (`CT.LAMBDA.PR.3`), as Control Tower's console and documentation do,
 * so an acknowledgement reads `ControlTower::CT.LAMBDA.PR.3` and a reviewer can look it up.
 */
export const CONTROL_TOWER_PLUGIN = 'ControlTower';

/** A Control Tower proactive control id, e.g. `CT.LAMBDA.PR.3`. */
export type ControlId = `CT.${string}.PR.${number}`;

/** The control named in a Control Tower rule's message: `[CT.LAMBDA.PR.3]: Require ...`. */
const CONTROL_IN_MESSAGE = /^\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/;

/** The Control Tower rule files the validator package bundles, one per control. */
const BUNDLED_RULES = join(
  dirname(createRequire(import.meta.url).resolve('@cdklabs/cdk-validator-cfnguard/package.json')),
  'rules/control-tower/cfn-guard',
);

export class ControlTowerChecks implements IPolicyValidationPlugin {
  readonly name = CONTROL_TOWER_PLUGIN;
  readonly version: string = createRequire(import.meta.url)(
    '@cdklabs/cdk-validator-cfnguard/package.json',
  ).version;

  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const guard = new CfnGuardValidator({
      controlTowerRulesEnabled: false,
      rules: rulesFor(resourceTypes(context.templatePaths)),
    });
    const report = guard.validate(context);
    return {
      ...report,
      violations: report.violations.map((violation) => ({
        ...violation,
        ruleName: CONTROL_IN_MESSAGE.exec(violation.description)?.[1] ?? violation.ruleName,
        // Said outright: the validator leaves it unset, which the report prints as ERROR, but
        // once any rule of the app is acknowledged aws-cdk-lib counts only findings marked
        // "error" or "fatal" as failures, and `cdk synth` would pass with open findings.
        severity: 'error',
      })),
    };
  }
}

/**
 * The rule files that can report on these resource types. A Control Tower rule picks its
 * resources by type, named in the file as a quoted literal (`let X = "AWS::SQS::Queue"`); a rule
 * naming none of the templates' types would only SKIP, so it is left out: cfn-guard then reads
 * some 30 of the 237 rules, and a synth takes ~1.6 s more instead of ~5 s more on this project.
 * A file that names no type at all is kept.
 */
function rulesFor(types: ReadonlySet<string>): string[] {
  const typeLiteral = /["'](AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)["']/g;
  return readdirSync(BUNDLED_RULES, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.guard'))
    .map((file) => join(BUNDLED_RULES, file))
    .filter((file) => {
      const named = [...readFileSync(file, 'utf8').matchAll(typeLiteral)].map((m) => m[1]);
      return named.length === 0 || named.some((type) => types.has(type as string));
    })
    .sort();
}

function resourceTypes(templatePaths: readonly string[]): Set<string> {
  const types = new Set<string>();
  for (const path of templatePaths) {
    const template = JSON.parse(readFileSync(path, 'utf8')) as {
      Resources?: Record<string, { Type?: string }>;
    };
    for (const resource of Object.values(template.Resources ?? {})) {
      if (resource.Type) types.add(resource.Type);
    }
  }
  return types;
}

/**
 * Accepts a control's finding on `scope` and everything under it, with the reason a reviewer
 * reads in validation-report.json and the README's table. Anything not acknowledged fails synth.
 */
export function acknowledgeControl(scope: IConstruct, control: ControlId, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${CONTROL_TOWER_PLUGIN}::${control}`, reason });
}

interface ReportedViolation {
  readonly ruleName: string;
  readonly violatingConstructs: readonly unknown[];
}

/**
 * One line for the synth output: the controls still open and those acknowledged, with how many
 * resources each, read from the report aws-cdk-lib writes (validation-report.json, where each
 * acknowledgement's reason is); undefined when the report has no Control Tower part.
 */
export function controlTowerSummary(reportJson: string): string | undefined {
  const report = JSON.parse(reportJson) as {
    pluginReports?: readonly {
      pluginName: string;
      violations?: readonly ReportedViolation[];
      suppressedViolations?: readonly ReportedViolation[];
    }[];
  };
  const controls = report.pluginReports?.find((part) => part.pluginName === CONTROL_TOWER_PLUGIN);
  if (controls === undefined) return undefined;
  const tally = (violations: readonly ReportedViolation[] = []) => {
    const counts = new Map<string, number>();
    for (const { ruleName, violatingConstructs } of violations) {
      counts.set(ruleName, (counts.get(ruleName) ?? 0) + violatingConstructs.length);
    }
    return [...counts].sort(([a], [b]) => a.localeCompare(b));
  };
  const open = tally(controls.violations);
  const acknowledged = tally(controls.suppressedViolations);
  const list = (counts: [string, number][]) =>
    counts.map(([rule, resources]) => `${rule} ×${resources}`).join(', ');
  return [
    `Control Tower proactive controls: ${open.length === 0 ? 'none open' : `open: ${list(open)}`}`,
    acknowledged.length > 0 ? `acknowledged: ${list(acknowledged)}` : 'none acknowledged',
  ].join('; ');
}
