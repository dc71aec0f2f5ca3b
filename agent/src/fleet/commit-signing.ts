/**
 * `canopy sign`: signatures appended to a commit's detached metadata
 * (`objects/XX/REST.commitmeta`), as `ostree sign` (ed25519) and
 * `ostree gpg-sign` (OpenPGP) append them. Other keys in the metadata and
 * signatures already there are kept.
 */
import type { SigningKeys } from '../channel/index';
import { ObjectType } from '../objects/index';
import { Transaction, type Repo } from '../repo/index';
import { parseDetachedMetadata, serializeDetachedMetadata } from '../sign/index';
import { addDetachedSignatures, type SignatureOutcome } from './detached-signing';

export interface CommitSigning {
  commit: string;
  outcomes: SignatureOutcome[];
  /** Whether `.commitmeta` was rewritten (false when every key had signed already). */
  written: boolean;
}

/**
 * Signs `commit` (a full checksum) with every key and writes the new
 * `.commitmeta` through a transaction (fsync, rename).
 *
 * @throws ERR_OBJECT_NOT_FOUND when the commit is not in the repository;
 *   as {@link addDetachedSignatures}; ERR_GVARIANT_* when the existing
 *   `.commitmeta` is malformed; ERR_IO / ERR_NO_SPACE when writing fails.
 */
export async function signCommit(repo: Repo, commit: string, keys: SigningKeys, opts: { now?: Date } = {}): Promise<CommitSigning> {
  const data = repo.readMetadataBytes(ObjectType.COMMIT, commit);
  const old = repo.readCommitMeta(commit);
  const md = old && old.length > 0 ? parseDetachedMetadata(old) : [];
  const { metadata, outcomes } = await addDetachedSignatures(md, data, keys, opts);
  const written = outcomes.some((o) => o.added);
  if (written) {
    const tx = new Transaction(repo);
    try {
      tx.writeCommitMeta(commit, serializeDetachedMetadata(metadata));
      tx.commit();
    } catch (e) {
      tx.abort();
      throw e;
    }
  }
  return { commit, outcomes, written };
}
