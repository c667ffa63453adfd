/** The two landing sources: one DynamoDB table, one Firehose delivery stream, one landing folder each. */
export const SOURCE_NAMES = ['tasks', 'users'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

export interface SourceDefinition {
  readonly tableName: string;
  readonly streamName: string;
  readonly keyNames: readonly string[];
}

export const SOURCES: Readonly<Record<SourceName, SourceDefinition>> = {
  tasks: { tableName: 'Tasks', streamName: 'medallion-tasks-cdc', keyNames: ['userId', 'taskId'] },
  users: { tableName: 'Users', streamName: 'medallion-users-cdc', keyNames: ['userId'] },
};

export const EVENT_NAMES = ['INSERT', 'MODIFY', 'REMOVE'] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/** `userIdentity` of an item that DynamoDB's TTL deleted, rather than the application. */
export const TTL_DELETE_IDENTITY = { type: 'Service', principalId: 'dynamodb.amazonaws.com' } as const;

/** One change to one item, before it is written out in a record format. */
export interface CdcEvent {
  readonly source: SourceName;
  /** Generation order. Breaks arrival-time ties so that one key's events keep their order in a file. */
  readonly sequence: number;
  readonly eventId: string;
  readonly eventName: EventName;
  /** When the change happened (the stream's ApproximateCreationDateTime), whole milliseconds. */
  readonly eventTimeMs: number;
  /** When Firehose received the record. */
  readonly arrivalMs: number;
  /** `dynamodb.Keys`, `NewImage` and `OldImage` as DynamoDB JSON text; images absent where the event has none. */
  readonly keysJson: string;
  readonly newImageJson: string | undefined;
  readonly oldImageJson: string | undefined;
  readonly sizeBytes: number;
  readonly deletedByTtl: boolean;
  /** Set on the event that an out-of-order fault must overtake; its object may not be delayed as a late object. */
  readonly pinnedInOrder: boolean;
}
