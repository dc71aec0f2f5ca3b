/**
 * One error class for the whole code base. Callers branch on `code`, never on
 * the message. `details` must stay JSON-safe so an error can be logged as one
 * line or sent over MQTT as it is.
 */

/** Every stable error code Canopy throws. Adding one is an API change. */
export const ErrorCodes = {
  ERR_INVALID_ARGUMENT: 'a caller passed a value the API does not accept',
  ERR_GVARIANT_TRUNCATED: 'serialized GVariant data ends before a declared length',
  ERR_GVARIANT_NOT_NORMAL: 'serialized GVariant data is not in normal form',
  ERR_GVARIANT_TYPE: 'a GVariant type string is invalid or unsupported',
  ERR_GVARIANT_TOO_LARGE: 'a GVariant value exceeds a size limit',
  ERR_OBJECT_INVALID: 'an OSTree object is structurally invalid',
  ERR_OBJECT_TYPE: 'an object has the wrong type for where it is used',
  ERR_CHECKSUM_MISMATCH: 'content does not hash to the checksum it is stored under',
  ERR_CHECKSUM_INVALID: 'a string is not a 64-digit lowercase hex sha256',
  ERR_SIGNATURE_MISSING: 'verification is required but the content carries no signature for a required engine',
  ERR_SIGNATURE_INVALID: 'a signature is malformed, expired, or does not match the signed bytes',
  ERR_KEY_UNTRUSTED: 'a signature was made by a key that is not in the trusted set',
  ERR_KEY_REVOKED: 'a signature was made by a key that has been revoked',
  ERR_KEY_EXPIRED: 'a signature was made by a key that has expired',
  ERR_UNSAFE_NAME: 'a file name from a tree would escape or corrupt a path',
  ERR_UNSAFE_PATH: 'a path on disk points outside the directory it must stay in',
  ERR_REF_INVALID: 'a ref or remote name does not follow the ref grammar',
  ERR_REF_NOT_FOUND: 'no ref or commit matches the given name',
  ERR_REF_EXISTS: 'a ref already exists where one was to be created',
  ERR_METADATA_KEY_NOT_FOUND: 'a commit or summary has no metadata value under the given key',
  ERR_OBJECT_NOT_FOUND: 'an object is not in the repository',
  ERR_REPO_INVALID: 'the directory is not a usable OSTree repository',
  ERR_REPO_EXISTS: 'a repository already exists where one was to be created',
  ERR_REPO_MODE: 'the operation is not possible in this repository mode',
  ERR_CONFIG_INVALID: 'a configuration file cannot be parsed or has a bad value',
  ERR_FILE_TYPE: 'a file type that OSTree cannot store (device, socket, fifo)',
  ERR_FILE_CHANGED: 'a file changed while it was being read',
  ERR_PERMISSION: 'the operation needs privileges the process does not have',
  ERR_XATTR: 'reading or writing extended attributes failed',
  ERR_CHECKOUT_EXISTS: 'the checkout target exists and overwriting was not asked for',
  ERR_CHECKOUT_CONFLICT: 'a union checkout found an entry whose type the commit cannot replace (a file where a directory goes, or a directory where a file goes)',
  ERR_HARDLINK_FAILED: 'a checkout that requires hardlinks could not link a file (another file system, the link limit, or protected hardlinks)',
  ERR_PATH_NOT_FOUND: 'a path does not exist in a commit\'s tree',
  ERR_TREE_TOO_LARGE: 'a commit\'s tree expands to more entries or deeper nesting than a walk allows',
  ERR_FSCK_FAILED: 'the repository has missing or corrupt objects',
  ERR_IO: 'a file system operation failed',
  ERR_NO_SPACE: 'the file system is full',
  ERR_USAGE: 'a command line could not be understood',
  ERR_ENV_CRC: 'a boot-loader environment copy fails its CRC check, or no copy is valid',
  ERR_ENV_INVALID: 'a boot-loader environment image is malformed (size, header, terminator, entry)',
  ERR_ENV_NAME: 'a boot-loader environment variable name is empty or has a forbidden character',
  ERR_ENV_VALUE: 'a boot-loader environment variable value has a forbidden character',
  ERR_ENV_TOO_LARGE: 'boot-loader environment variables do not fit the environment size',
  ERR_BOOT_STATE: 'a boot-loader action does not fit the recorded boot state (e.g. mark-good while a fallback is recorded)',
  ERR_BOOT_ENTRY_INVALID: 'a boot entry has a missing or unsafe field (kernel path, options, title)',
  ERR_STATE_INVALID: 'a state file the agent keeps (health report, recorded failure, rollback record, rejected commits) is malformed',
  ERR_VARINT_INVALID: 'a LEB128 varint is truncated, overlong or too large',
  ERR_XZ_CORRUPT: 'xz data is malformed, truncated or fails its integrity check',
  ERR_XZ_UNSUPPORTED: 'xz data uses a filter or check this decoder does not implement',
  ERR_DECOMPRESS_TOO_LARGE: 'decompressed data would exceed the size the caller allows',
  ERR_BSDIFF_INVALID: 'a bsdiff patch stream is malformed or reads outside its inputs',
  ERR_DELTA_INVALID: 'a static delta superblock, part or opcode stream is malformed',
  ERR_DELTA_UNSUPPORTED: 'a static delta uses a version or feature that is not supported',
  ERR_EXTERNAL_TOOL: 'an external program is missing or failed',
  ERR_REMOTE_NOT_FOUND: 'no remote of that name is configured in the repository',
  ERR_REMOTE_EXISTS: 'a remote of that name is already configured',
  ERR_HTTP_STATUS: 'a server answered a request with an error status',
  ERR_NETWORK: 'a connection failed, was reset or timed out',
  ERR_TLS: 'a TLS connection failed verification (unknown CA, wrong name, pinned key mismatch, client certificate refused)',
  ERR_REF_BINDING: 'a commit is not bound to the ref or collection it was pulled as',
  ERR_DOWNGRADE: 'a pulled commit is older than the one the ref points to (a possible rollback attack)',
  ERR_BUDGET_EXCEEDED: 'an operation needs more bytes or objects than its budget allows',
  ERR_ABORTED: 'the operation was cancelled',
  ERR_SYSROOT_INVALID: 'a sysroot is malformed (loader or bootlink symlink, BLS entry, ostree= argument, deployment name)',
  ERR_STATEROOT_EXISTS: 'a stateroot (os) of that name is already initialised in the sysroot',
  ERR_STATEROOT_NOT_FOUND: 'no stateroot (os) of that name exists in the sysroot, or none was given and none is booted',
  ERR_DEPLOYMENT_NOT_FOUND: 'no deployment has the given index or name',
  ERR_BOOTED_DEPLOYMENT: 'the operation would remove or replace the booted deployment',
  ERR_NOT_BOOTED: 'the operation needs a system booted into a deployment of the sysroot',
  ERR_KERNEL_NOT_FOUND: 'a commit has no kernel in /usr/lib/modules/<kver>/vmlinuz, /usr/lib/ostree-boot or /boot',
  ERR_ETC_MERGE_CONFLICT: 'the /etc merge cannot apply a local change (a file where the new default is a directory)',
  ERR_TIMEOUT: 'a wait for a broker, a device\'s acknowledgement or a retained message ran out of time',
  ERR_COMMAND_REFUSED: 'a device refused a signed command (the reason says why: not-for-me, expired, replayed, unknown-key, pinned, busy …)',
  ERR_ROLLOUT_STATE: 'a rollout operation does not fit the rollout\'s state (nothing announced on the channel, resume of a rollout that is not paused)',
  ERR_ROLLOUT_PAUSED: 'a rollout paused itself because too many devices of an open wave failed',
  ERR_AGENT_TRANSITION: 'the agent\'s state machine has no transition for an event in its current state (a bug: reported loudly, never ignored)',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export type ErrorDetails = Record<string, string | number | boolean | null | undefined | string[]>;

/** The error every Canopy layer throws. */
export class CanopyError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CanopyError';
    this.code = code;
    this.details = details;
  }

  /** A JSON-safe form for logs, `--json` output and MQTT reports. */
  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** True when `e` is a CanopyError, optionally with the given code. */
export function isCanopyError(e: unknown, code?: ErrorCode): e is CanopyError {
  return e instanceof CanopyError && (code === undefined || e.code === code);
}

/**
 * Wraps an error from Node's fs into a CanopyError that names the path and
 * the operation. CanopyErrors pass through with the context prefixed.
 */
export function ioError(e: unknown, op: string, path: string): CanopyError {
  if (e instanceof CanopyError) return e;
  const sys = e as NodeJS.ErrnoException;
  const errno = typeof sys?.code === 'string' ? sys.code : 'EUNKNOWN';
  const code: ErrorCode = errno === 'ENOSPC' || errno === 'EDQUOT' ? 'ERR_NO_SPACE'
    : errno === 'EACCES' || errno === 'EPERM' ? 'ERR_PERMISSION' : 'ERR_IO';
  return new CanopyError(code, `${op} ${path}: ${sys?.message ?? String(e)}`, { op, path, errno }, { cause: e });
}

/** Throws ERR_INVALID_ARGUMENT when `cond` is false. */
export function check(cond: unknown, message: string, details: ErrorDetails = {}): asserts cond {
  if (!cond) throw new CanopyError('ERR_INVALID_ARGUMENT', message, details);
}
