/**
 * Operator tools: keys, signing commits and summaries, serving a
 * repository, publishing releases, staged rollouts gated by the fleet's
 * health, the fleet's view, and signed remote commands. Used by the
 * `canopy` CLI (keys, sign, serve, publish, rollout, fleet) and the demo;
 * never by the device.
 *
 * The rollout's state lives in the channel's retained announcement
 * (rollout-model.ts lists the operator-side fields devices ignore), so a
 * controller can stop and start again without losing anything.
 *
 * Error codes thrown: ERR_INVALID_ARGUMENT, ERR_CONFIG_INVALID (key files),
 * ERR_IO / ERR_PERMISSION / ERR_NO_SPACE, ERR_NETWORK and ERR_TIMEOUT (the
 * broker), ERR_KEY_UNTRUSTED / ERR_SIGNATURE_INVALID (a retained
 * announcement that is not the operator's), ERR_ROLLOUT_STATE,
 * ERR_STATE_INVALID (the journal), ERR_ABORTED, and what the repository,
 * delta and signing layers throw.
 */
export { generateKeyFiles, readSecretKeyFile, publicKeyFileText, listKeyFiles, type WrittenKeyPair, type ListedKey } from './key-files';
export { addDetachedSignatures, hasSigningKeys, type SignatureOutcome } from './detached-signing';
export { signCommit, type CommitSigning } from './commit-signing';
export { publishSummary, type SignedSummary } from './summary-signing';
export {
  serveDirectory, contentTypeFor, cacheControlFor, requestSegments, etagFor, parseRange,
  type StaticServer, type StaticServerOptions, type ServedRequest,
} from './static-server';
export {
  DEFAULT_POLICY, parseWaves, waveState, rolloutStatus, rolloutPolicy, checkPolicy, newRollout, openWave, completeRollout, pauseRollout,
  resumeRollout, abortRollout, lastOpenWave,
  type WaveState, type RolloutStatus, type RolloutPolicy, type ControlledWave, type RolloutControl, type ControlledAnnouncement,
} from './rollout-model';
export { deviceOutcome, isFailure, inAudience, rolloutDevices, waveCounts, type DeviceOutcome, type RolloutDevice, type WaveCounts } from './rollout-progress';
export { decideRollout, waveFailure, type RolloutAction } from './rollout-decision';
export { rolloutReport, formatRolloutReport, table, type RolloutReport } from './rollout-report';
export { FleetView, type FleetRow, type Refusal } from './fleet-view';
export { formatFleetRows } from './fleet-table';
export { defaultJournalPath, readJournal, writeJournal, loadJournalInto, journalFrom, type Journal } from './journal';
export { OperatorLink, type OperatorLinkOptions } from './operator-link';
export {
  ANNOUNCEMENT_TTL_SECONDS, operatorTrust, readAnnouncement, openAnnouncement, publishAnnouncement, type CurrentAnnouncement,
} from './announcement-store';
export { runRolloutController, type ControllerOptions, type ControllerResult } from './rollout-controller';
export { sendCommand, type CommandAnswer, type SendCommandOptions, type SendCommandResult } from './command-sender';
export {
  publishRelease, defaultRolloutId, type PublishOptions, type PublishAnnounceOptions, type PublishResult, type DeltaOutcome,
} from './publish';
