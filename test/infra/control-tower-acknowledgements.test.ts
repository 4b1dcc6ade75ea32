import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { buildApp } from '#infra/build-app.ts';

/**
 * An acknowledgement taken away fails synth: the Control Tower findings are errors, not notes,
 * even beside other acknowledged ones. aws-cdk-lib counts only findings marked "error" once a
 * plugin's report has an acknowledged finding, so a finding without a severity once passed
 * synth unseen: the default profile (which acknowledges other controls) shows that; the
 * governed one, whose only Control Tower acknowledgement is the route's, fails either way.
 */

vi.mock('#infra/control-tower.ts', async (original) => {
  const actual = await original<typeof import('#infra/control-tower.ts')>();
  return {
    ...actual,
    // The route's acknowledgement, and only it, is left out.
    acknowledgeControl: (...args: Parameters<typeof actual.acknowledgeControl>) =>
      args[1] === 'CT.APIGATEWAY.PR.5' ? undefined : actual.acknowledgeControl(...args),
  };
});

const CDK_JSON = JSON.parse(readFileSync('cdk.json', 'utf8')) as {
  context: Record<string, unknown>;
};

describe('a removed acknowledgement', () => {
  for (const governed of [false, true]) {
    it(`fails synth, naming the control and the resource (governed=${governed})`, () => {
      const { app } = buildApp({
        context: {
          ...CDK_JSON.context,
          'aws:cdk:bundling-stacks': [],
          governed,
          stage: 'prod',
        },
      });
      expect(() => app.synth()).toThrow(
        /CT\.APIGATEWAY\.PR\.5[\s\S]*Auth0CrmSync-prod\/SyncApi\/Api\/DefaultRoute/,
      );
    });
  }
});
