import { ManagementError } from 'auth0';
import { CrmFailure } from '#shared/domain/ports.ts';

/** The error a call failed with; fails the test when the call succeeded. */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

/** The Management API's answer to a call expected to be refused, as the auth0 SDK raises it. */
export async function rejection(promise: Promise<unknown>): Promise<ManagementError> {
  const error = await failure(promise);
  if (error instanceof ManagementError) return error;
  throw error;
}

/** The CrmFailure a CRM lookup failed with; fails the test on success or on any other error. */
export async function crmFailure(lookup: Promise<unknown>): Promise<CrmFailure> {
  const error = await failure(lookup);
  if (error instanceof CrmFailure) return error;
  throw error;
}
