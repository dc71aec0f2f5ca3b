/**
 * Exit statuses of the `canopy` CLI. Scripts branch on these, so the table
 * is stable: a status never changes meaning, new error codes map into the
 * existing classes (or to 1), and new classes get new numbers.
 */
import type { ErrorCode } from '../core/errors';

export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  CORRUPT: 4,
  UNTRUSTED: 5,
  PERMISSION: 6,
  NO_SPACE: 7,
  NETWORK: 8,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The error codes of each class other than generic failure. */
const CLASSES: ReadonlyArray<{ status: ExitCode; meaning: string; codes: readonly ErrorCode[] }> = [
  { status: ExitCode.USAGE, meaning: 'the command line could not be understood', codes: ['ERR_USAGE'] },
  { status: ExitCode.NOT_FOUND, meaning: 'a ref, commit, object, path, metadata key, deployment or stateroot does not exist', codes: ['ERR_REF_NOT_FOUND', 'ERR_OBJECT_NOT_FOUND', 'ERR_PATH_NOT_FOUND', 'ERR_METADATA_KEY_NOT_FOUND', 'ERR_DEPLOYMENT_NOT_FOUND', 'ERR_STATEROOT_NOT_FOUND', 'ERR_REMOTE_NOT_FOUND'] },
  {
    status: ExitCode.CORRUPT,
    meaning: 'content is corrupt or malformed',
    codes: [
      'ERR_CHECKSUM_MISMATCH', 'ERR_OBJECT_INVALID', 'ERR_FSCK_FAILED', 'ERR_GVARIANT_TRUNCATED', 'ERR_GVARIANT_NOT_NORMAL',
      'ERR_GVARIANT_TOO_LARGE', 'ERR_UNSAFE_NAME', 'ERR_DELTA_INVALID', 'ERR_XZ_CORRUPT', 'ERR_BSDIFF_INVALID', 'ERR_VARINT_INVALID',
    ],
  },
  {
    status: ExitCode.UNTRUSTED,
    meaning: 'a signature is missing, invalid or made by a key that is not trusted, or a commit is not bound to its ref or is older than the one installed',
    codes: ['ERR_SIGNATURE_MISSING', 'ERR_SIGNATURE_INVALID', 'ERR_KEY_UNTRUSTED', 'ERR_KEY_REVOKED', 'ERR_KEY_EXPIRED', 'ERR_REF_BINDING', 'ERR_DOWNGRADE'],
  },
  { status: ExitCode.PERMISSION, meaning: 'the operation needs privileges the process does not have', codes: ['ERR_PERMISSION'] },
  { status: ExitCode.NO_SPACE, meaning: 'the file system is full', codes: ['ERR_NO_SPACE'] },
  { status: ExitCode.NETWORK, meaning: 'a server could not be reached, failed TLS verification or answered with an error', codes: ['ERR_NETWORK', 'ERR_TLS', 'ERR_HTTP_STATUS'] },
];

const BY_CODE = new Map<string, ExitCode>(CLASSES.flatMap((c) => c.codes.map((code) => [code, c.status] as const)));

/** The exit status for an error code; 1 for codes outside the classes and for non-Canopy errors. */
export function exitCodeFor(code: ErrorCode | string | undefined): ExitCode {
  return (code !== undefined && BY_CODE.get(code)) || ExitCode.FAILURE;
}

/** The table as help text, one status a line. */
export function exitCodeHelp(): string {
  const lines = ['  0  success', '  1  any other failure'];
  for (const c of CLASSES) {
    lines.push(`  ${c.status}  ${c.meaning}`);
    let line = '     ';
    for (const code of c.codes) {
      if (line.length + code.length > 92) {
        lines.push(line.trimEnd());
        line = '     ';
      }
      line += `${code} `;
    }
    lines.push(line.trimEnd());
  }
  return lines.join('\n');
}
