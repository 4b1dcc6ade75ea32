import { parseSourceNetworks } from '#shared/domain/source-networks.ts';
import { isValidTimeZone } from '#shared/domain/sync-day.ts';

/**
 * Checks of single CDK context values whose message depends on the value. Each returns what is
 * wrong, or undefined; infra/config.ts puts the setting's name in front.
 */

/**
 * An IANA zone as EventBridge Scheduler and the service take it. Intl accepts any case
 * (`europe/paris`); Scheduler's ScheduleExpressionTimezone is matched as written, so the
 * canonical spelling is asked for.
 */
export function timeZoneProblem(zone: string): string | undefined {
  if (!isValidTimeZone(zone)) return `"${zone}" is not an IANA time zone, e.g. Europe/Paris or UTC`;
  const canonical = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  if (canonical !== zone && canonical.toLowerCase() === zone.toLowerCase()) {
    return `"${zone}" must be written ${canonical}`;
  }
  return undefined;
}

/** ALLOWED_SOURCE_IPS as the service reads it (shared/domain/source-networks.ts). */
export function sourceNetworksProblem(list: string): string | undefined {
  try {
    parseSourceNetworks(list);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * A host name for the sync API: labels of 1 to 63 letters, digits and inner hyphens, 253
 * characters at most (RFC 1035 §2.3.4, RFC 1123 §2.1), two labels at least, no trailing dot and
 * no wildcard (the API has one name).
 */
export function dnsNameProblem(name: string): string | undefined {
  const accepted = `"${name}" is not a DNS name such as sync.acme.com`;
  if (name.length > 253 || name.endsWith('.')) return accepted;
  const labels = name.split('.');
  if (labels.length < 2) return accepted;
  const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
  if (!labels.every((part) => label.test(part))) return accepted;
  if (/^\d+$/.test(labels.at(-1) ?? '')) return `${accepted} (it reads as an IP address)`;
  return undefined;
}

/** arn:<partition>:acm:<region>:<account>:certificate/<id>; the region is captured. */
export const ACM_CERTIFICATE_ARN =
  /^arn:aws[a-z-]*:acm:([a-z]{2}(?:-[a-z]+)+-\d+):\d{12}:certificate\/[0-9a-f-]{36}$/;

/**
 * domainName and certificateArn come together; a regional API Gateway domain (the sync API's,
 * infra/constructs/sync-api.ts) takes a certificate from the stack's own region only.
 */
export function customDomainProblem(config: {
  readonly domainName?: string | undefined;
  readonly certificateArn?: string | undefined;
  readonly executeApiEndpoint?: boolean | undefined;
  readonly stage?: { readonly region?: string | undefined } | undefined;
}): string | undefined {
  const { domainName, certificateArn } = config;
  if (config.executeApiEndpoint === false && domainName === undefined) {
    return 'executeApiEndpoint: false turns the only URL off without a custom domain; set domainName and certificateArn, or leave it unset';
  }
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    return `domainName and certificateArn: set both or neither (${domainName === undefined ? 'certificateArn' : 'domainName'} is set alone)`;
  }
  const certificateRegion = certificateArn && ACM_CERTIFICATE_ARN.exec(certificateArn)?.[1];
  const region = config.stage?.region;
  if (certificateRegion && region && certificateRegion !== region) {
    return `certificateArn: the certificate is in ${certificateRegion} but the stack deploys to ${region}; a regional API domain needs a certificate of ${region} (request or import it there)`;
  }
  return undefined;
}

/** A VPC subnet id as EC2 writes it: `subnet-` and 8 or 17 hexadecimal digits. */
export const SUBNET_ID = /^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
/** A security group id: `sg-` and 8 or 17 hexadecimal digits. */
export const SECURITY_GROUP_ID = /^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
/**
 * A KMS key ARN (a key id or a multi-Region `mrk-` id; an alias is not a key): CloudWatch Logs
 * takes "the Amazon Resource Name (ARN) of the KMS key" (AssociateKmsKey, kmsKeyId).
 */
export const KMS_KEY_ARN =
  /^arn:aws[a-z-]*:kms:[a-z]{2}(?:-[a-z]+)+-\d+:\d{12}:key\/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;

/** The settings only the governed profile reads. */
export type GovernedSetting = 'logsKmsKeyArn' | 'vpcSubnetIds' | 'vpcSecurityGroupIds';

/**
 * The settings of the governed profile (README, "Governed organizations") are read only with
 * `governed=true`; given without it they would be silently ignored, so they are refused, but
 * for those `tolerated` names: cdk.json's examples (unused until governed is on), and values a
 * stage inherits from the top level for another stage that is governed.
 */
export function governanceProblem(
  config: {
    readonly governed: boolean;
    readonly logsKmsKeyArn?: string | undefined;
    readonly vpcSubnetIds?: readonly string[] | undefined;
    readonly vpcSecurityGroupIds?: readonly string[] | undefined;
  },
  tolerated: (key: GovernedSetting) => boolean,
): string | undefined {
  const { vpcSubnetIds: subnets, vpcSecurityGroupIds: groups } = config;
  if (config.governed) {
    if (!subnets?.length || !groups?.length) {
      return 'governed=true places the functions in a VPC (CT.LAMBDA.PR.3): set vpcSubnetIds and vpcSecurityGroupIds (subnets with a route to the CRM and Auth0, see the README)';
    }
    return undefined;
  }
  const stray = (['logsKmsKeyArn', 'vpcSubnetIds', 'vpcSecurityGroupIds'] as const).filter(
    (key) => config[key] !== undefined && !tolerated(key),
  );
  if (stray.length === 0) return undefined;
  return `${stray.join(' and ')}: read only with governed=true (KMS-encrypted logs, the functions in a VPC); set governed=true, in cdk.json or in the block of the stage they are for, or remove ${stray.length > 1 ? 'them' : 'it'}`;
}
