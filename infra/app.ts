import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readStackConfig } from './config.ts';
import { CrmSyncStack } from './stack.ts';

/** `npx cdk synth|deploy`: settings from CDK context (cdk.json, -c key=value). */
const app = new App();
// Registered before any construct exists, so every one of them is checked.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
const config = readStackConfig((key) => app.node.tryGetContext(key));
new CrmSyncStack(app, app.node.tryGetContext('stackName') ?? 'Auth0CrmSync', {
  config,
  description: 'auth0-crm-sync: Auth0 users tied to their CRM record (sync API, backfill, alarms)',
});
app.synth();
