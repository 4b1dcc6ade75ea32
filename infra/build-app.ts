import { App, type AppProps, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readStackConfig } from './config.ts';
import { ControlTowerChecks } from './control-tower.ts';
import { CrmSyncStack } from './stack.ts';
import { anyStageGoverned, checkContextKeys, readStages } from './stages.ts';

export interface BuiltApp {
  readonly app: App;
  readonly stacks: readonly CrmSyncStack[];
}

export interface BuildOptions {
  /**
   * The context in cdk.json itself, so that a value given with `-c` wins over a stage's own
   * (without it, a stage's value always wins).
   */
  readonly cdkJsonContext?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * The CDK app: one CrmSyncStack per stage picked from the context (infra/stages.ts), each
 * tagged on every resource and checked by cdk-nag and by Control Tower's proactive controls.
 * `npx cdk` runs it through infra/app.ts; tests call it with a context and synthesize without
 * the CLI.
 */
export function buildApp(props: AppProps = {}, options: BuildOptions = {}): BuiltApp {
  const app = new App(props);
  // Registered before any construct exists, so every one of them is checked: cdk-nag's
  // AwsSolutions rules and Control Tower's proactive controls (infra/control-tower.ts).
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ControlTowerChecks());
  const context = (key: string) => app.node.tryGetContext(key);
  const { cdkJsonContext } = options;
  // The CLI hands the app cdk.json and `-c` merged; a value unlike cdk.json's came from `-c`.
  const fromCommandLine = (key: string) =>
    cdkJsonContext !== undefined &&
    JSON.stringify(context(key)) !== JSON.stringify(cdkJsonContext[key]);
  checkContextKeys(Object.keys(app.node.getAllContext()));
  const stages = readStages(context, fromCommandLine);
  // Every stage's settings are checked before the first stack bundles its Lambdas, so a
  // wrong value in the last stage fails at once.
  // Governed settings at the top level serve the governed stages (those of cdk.json, picked or
  // not); a stage that is not governed leaves them unread, and refuses them in its own block.
  const governedStage = anyStageGoverned(context, fromCommandLine);
  const configs = stages.map((stage) =>
    readStackConfig(
      stage.context,
      { name: stage.name, ...stage.env },
      { servesGovernedStage: (key) => governedStage && stage.inherited(key) },
    ),
  );
  const stacks = stages.map((stage, index) => {
    const stack = new CrmSyncStack(app, stage.stackName, {
      config: configs[index] as (typeof configs)[number],
      description: `auth0-crm-sync (${stage.name}): Auth0 users tied to their CRM record (sync API, backfill, alarms)`,
      ...(stage.env ? { env: stage.env } : {}),
      terminationProtection: stage.terminationProtection,
      // The stack's own tags, which CloudFormation also gives the resources it creates.
      tags: stage.tags,
    });
    // In the template too, on every taggable resource: with @aws-cdk/core:explicitStackTags
    // (cdk.json), Tags.of(stack) reaches the resources and `tags` above the stack itself.
    for (const [key, value] of Object.entries(stage.tags)) Tags.of(stack).add(key, value);
    return stack;
  });
  return { app, stacks };
}
