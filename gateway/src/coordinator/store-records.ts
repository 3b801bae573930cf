/**
 * What the coordinator store hands out and takes in: site records, operations with their steps and
 * member results, and the operation statuses that end an operation.
 */
import type { ErrorJson, OperationStatus, OperationType, StepStatus } from '@protector/schema';

/** The enums the journal stores, as the API defines them. */
export type { ErrorJson, OperationStatus, OperationType, StepStatus };

export interface ServiceCredentials {
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  readonly userDomainName: string;
  readonly projectDomainName: string;
}

export interface SiteRecord {
  readonly name: string;
  readonly key: string;
  readonly description: string | null;
  readonly url: string;
  readonly authUrl: string;
  readonly registeredAt: Date;
  readonly hasServiceCredentials: boolean;
}

export const TERMINAL_STATUSES: readonly OperationStatus[] = [
  'SUCCEEDED',
  'FAILED',
  'PARTIAL',
  'CANCELLED',
  'ROLLED_BACK',
];

export interface StepRecord {
  readonly index: number;
  readonly key: string;
  readonly name: string;
  /** Site name, or null for a coordinator-only step. */
  readonly site: string | null;
  readonly phase: 'forward' | 'rollback';
  readonly status: StepStatus;
  readonly attempt: number;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly error: ErrorJson | null;
  readonly result: unknown;
}

export interface MemberResult {
  readonly memberId: string;
  readonly memberName: string;
  readonly status: StepStatus;
  readonly site: string | null;
  readonly serverId: string | null;
  readonly error: ErrorJson | null;
}

export interface OperationRecord {
  readonly id: string;
  readonly type: OperationType;
  readonly status: OperationStatus;
  readonly protectionGroupId: string;
  readonly protectionGroupName: string;
  readonly sourceSite: string | null;
  readonly targetSite: string | null;
  readonly params: Record<string, unknown>;
  readonly recoveryPoint: Record<string, unknown> | null;
  readonly members: readonly MemberResult[];
  readonly error: ErrorJson | null;
  readonly requestedBy: string | null;
  readonly cancelRequested: boolean;
  readonly rollbackRequested: boolean;
  readonly sequence: number;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  /** The gateway running the operation, while its lease lasts (see `claimOperation`). */
  readonly owner: string | null;
  readonly leaseUntil: Date | null;
  readonly steps: readonly StepRecord[];
}

export interface NewStep {
  readonly key: string;
  readonly name: string;
  readonly site: string | null;
  readonly phase?: 'forward' | 'rollback';
}
