import { readFileSync } from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readStackConfig } from '#infra/config.ts';
import { CrmSyncStack } from '#infra/stack.ts';

const FEATURE_FLAGS = Object.fromEntries(
  Object.entries(
    (
      JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
        context: Record<string, unknown>;
      }
    ).context,
  ).filter(([key]) => key.startsWith('@aws-cdk/')),
);

/** Settings that pass validation and hold no example value. */
export const DEPLOYABLE = {
  auth0Domain: 'acme.eu.auth0.com',
  crmUrl: 'https://crm.acme.test/contacts/lookup',
  alarmEmail: 'oncall@acme.test',
};

/**
 * Synthesizes one stack per name offline, with cdk-nag's AwsSolutions checks, as `cdk synth`
 * does: it throws on any unacknowledged finding. One app, so stacks can be compared.
 */
export function synthStacks(
  context: Record<string, unknown>,
  stackNames: string[] = ['CrmSyncTest'],
): Template[] {
  // With cdk.json's feature flags, so the templates tested are the shape that is deployed.
  const app = new App({ context: { ...FEATURE_FLAGS, ...context } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const config = readStackConfig((key) => app.node.tryGetContext(key));
  const stacks = stackNames.map((name) => new CrmSyncStack(app, name, { config }));
  app.synth();
  return stacks.map((stack) => Template.fromStack(stack));
}

export function synth(context: Record<string, unknown>): Template {
  return synthStacks(context)[0] as Template;
}

/** A resource's JSON with its tokens (Ref, Fn::GetAtt, Fn::Join) as they are. */
export function onlyResource(template: Template, type: string) {
  const resources = Object.values(template.findResources(type));
  const [resource] = resources;
  if (resource === undefined || resources.length !== 1) {
    throw new Error(`expected one ${type}, found ${resources.length}`);
  }
  return resource;
}

/** The state machine's ASL, its tokens written as `<token>`. */
export function stateMachineDefinition(template: Template): {
  StartAt: string;
  States: Record<string, Record<string, unknown>>;
} {
  const definition = onlyResource(template, 'AWS::StepFunctions::StateMachine').Properties
    .DefinitionString;
  const text =
    typeof definition === 'string'
      ? definition
      : (definition['Fn::Join'][1] as unknown[])
          .map((part) => (typeof part === 'string' ? part : '<token>'))
          .join('');
  return JSON.parse(text);
}
