/**
 * The device's messaging layer: the Canopy protocol (agent/PROTOCOL.md),
 * its JSON schemas, signed envelopes, the replay store, rollout waves, and
 * the channels: MQTT (push), HTTP polling of the summary (pull) and the
 * two combined. Operators build and sign messages with sign-message.ts.
 *
 * Inbound messages never throw: they are let through or refused with a
 * stable reason (REJECTION_REASONS). Error codes thrown:
 * ERR_INVALID_ARGUMENT (bad names, topic prefix, outgoing reports that do
 * not match their schema, messages to sign), ERR_CONFIG_INVALID (key
 * files, MQTT credential files), ERR_IO / ERR_NO_SPACE / ERR_PERMISSION
 * (replay store), and for PollChannel.checkNow: ERR_HTTP_STATUS,
 * ERR_NETWORK, ERR_TLS, ERR_OBJECT_INVALID, ERR_GVARIANT_*,
 * ERR_REF_NOT_FOUND, ERR_SIGNATURE_*, ERR_KEY_*.
 */
export {
  PROTOCOL_VERSION, MAX_MESSAGE_BYTES, MAX_REPORT_BYTES, MAX_SIGNATURES, DEFAULT_CLOCK_SKEW_SECONDS, MAX_COMMAND_LIFETIME_SECONDS,
  SIGNING_CONTEXT, DEFAULT_TOPIC_PREFIX, NAME_PATTERN, TIMESTAMP_PATTERN, REJECTION_REASONS, isProtocolName, parseTimestamp, formatTimestamp,
  type RejectionReason,
} from './protocol';
export {
  COMMAND_KINDS,
  type Announcement, type Wave, type Command, type CommandKind, type CommandTarget, type LogLevel, type DeviceState, type DeviceEvent,
  type EventBody, type HealthCheckResult, type Envelope, type EnvelopeSignature, type SignedType,
} from './messages';
export {
  validateEnvelope, validateAnnouncement, validateCommand, validateDeviceState, validateDeviceEvent, validateAgentConfig,
  validateAgentConfigFragment, type SchemaIssue, type Validation, type Validator,
} from './validate';
export { topicPrefix, topicsFor, classifyTopic, type Topics, type TopicKind } from './topics';
export { rolloutBucket, wavePlacement, waveOpenFor, checkWaves, type WavePlacement } from './rollout';
export { loadMessageTrust, type MessageTrust, type MessageKeyFiles } from './message-trust';
export { signingBytes, buildEnvelope, encodeEnvelope, openEnvelope, type Signer, type Rejection, type Opened, type OpenOptions } from './envelope';
export { NonceStore, nodeStoreFs, type StoreFs, type NonceStoreOptions, type ReplayVerdict, type AnnouncementVerdict } from './nonce-store';
export { MessageGate, type DeviceIdentity, type MessageGateOptions, type GateResult } from './message-gate';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';
export {
  Listeners,
  type Channel, type ChannelStatus, type ChannelLog, type AnnouncementMessage, type CommandMessage, type RefUpdate, type RejectedMessage,
  type StateReport, type Unsubscribe,
} from './channel';
export { MqttChannel, type MqttChannelOptions } from './mqtt-channel';
export { PollChannel, type PollChannelOptions, type PollOutcome } from './poll-channel';
export { FallbackChannel, type FallbackChannelOptions } from './fallback-channel';
export {
  buildAnnouncement, buildCommand, signMessage, newNonce, type SigningKeys, type AnnouncementInput, type CommandInput,
} from './sign-message';
