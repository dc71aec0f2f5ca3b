/**
 * Where a pull gets objects from. The engine asks for raw bytes and checks
 * everything itself, so a source needs no trust: {@link RemoteObjectSource}
 * reads an archive repository over HTTP(S) or file:// (objects from the
 * content URL, detached metadata from the main URL, as OSTree splits them);
 * `local-source.ts` reads another repository on disk.
 */
import { Limits } from '../core/limits';
import { ObjectType, objectRelPath, objectTypeName, type FileHeader } from '../objects/index';
import { MAX_DETACHED_METADATA_SIZE } from '../sign/index';
import type { Body } from './body-sink';
import type { Fetcher } from './fetcher';

/** A file object as a source hands it over. */
export type ContentItem =
  /** A `.filez` in memory or spooled to a file (archive sources). */
  | { readonly kind: 'archive'; readonly body: Body }
  /** Header and content (a bare source), already read. */
  | { readonly kind: 'plain'; readonly header: FileHeader; readonly content: Buffer };

export interface ObjectSource {
  /** For messages: the remote name or repository path. */
  readonly name: string;
  /** The commit's `.commitmeta`, or undefined when it has none. */
  fetchCommitMeta(commit: string): Promise<Buffer | undefined>;
  /** A metadata object's bytes, unverified (at most `maxBytes`). */
  fetchMetadata(type: ObjectType, checksum: string, maxBytes: number): Promise<Buffer>;
  /** A file object, unverified. */
  fetchContent(checksum: string): Promise<ContentItem>;
  /** Request and byte counters. */
  stats(): { requests: number; bytes: number };
}

/** Objects of an archive repository served over HTTP(S) or file://. */
export class RemoteObjectSource implements ObjectSource {
  constructor(readonly name: string, private readonly fetcher: Fetcher, private readonly maxContentBytes: number) {}

  async fetchCommitMeta(commit: string): Promise<Buffer | undefined> {
    const r = await this.fetcher.fetch({
      base: 'url',
      path: objectRelPath(commit, ObjectType.COMMIT_META, 'archive'),
      what: `detached metadata of commit ${commit}`,
      optional: true,
      maxBytes: MAX_DETACHED_METADATA_SIZE,
    });
    return r?.body?.data;
  }

  async fetchMetadata(type: ObjectType, checksum: string, maxBytes: number): Promise<Buffer> {
    const r = await this.fetcher.fetch({
      base: 'content',
      path: objectRelPath(checksum, type, 'archive'),
      what: `${objectTypeName(type)} ${checksum}`,
      maxBytes: Math.min(maxBytes, Limits.maxMetadataSize),
      object: true,
    });
    return r!.body!.data!;
  }

  async fetchContent(checksum: string): Promise<ContentItem> {
    const r = await this.fetcher.fetch({
      base: 'content',
      path: objectRelPath(checksum, ObjectType.FILE, 'archive'),
      what: `file object ${checksum}`,
      maxBytes: this.maxContentBytes,
      object: true,
      spool: true,
    });
    return { kind: 'archive', body: r!.body! };
  }

  stats(): { requests: number; bytes: number } {
    return { requests: this.fetcher.requests, bytes: this.fetcher.bytes };
  }
}
