/**
 * nkms/client: the SDK. Writers encrypt to a label's public key (writer.ts); owners derive
 * label keys, grant, revoke and audit (owner.ts); recipients retrieve and decrypt
 * (recipient.ts). Every async call takes a timeout and an AbortSignal; every error is a
 * ClientError with a `code`. See docs/quickstart.md.
 */
export { AbortedError, ClientError, NodesFailedError, TimeoutError } from "./errors";
export type { ClientErrorCode, NodeFailure } from "./errors";
export { gather, withDeadline, type GatherOptions, type Gathered } from "./async";
export { stakeWeightedOrder, type StakedCandidate } from "./sampling";
export { NodeConnector, type NodeInfo } from "./nodes";
export { readDevnetFile, type DevnetFile, type NetworkConfig } from "./network";
export {
  decryptStream,
  encryptMessage,
  encryptStream,
  readStreamStart,
  type MessageKit,
  type StreamStart,
} from "./writer";
export {
  Owner,
  OwnerKeys,
  type AccessLogHead,
  type AccessLogRecord,
  type AccessLogReport,
  type GrantOptions,
  type GrantResult,
  type OwnerOptions,
  type RevokeResult,
  type TransactionRecord,
} from "./owner";
export {
  Recipient,
  type IncorrectCFragReport,
  type ReceivedPolicy,
  type RecipientOptions,
  type RetrieveOptions,
  type RetrieveResult,
} from "./recipient";
export { clientContracts, type ClientContracts } from "./contracts";
export { SecretKey, PublicKey, Capsule } from "../pre";
