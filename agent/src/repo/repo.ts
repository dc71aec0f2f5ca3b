/**
 * A repository on disk: its mode and config, where objects live, and reading
 * objects back with their checksums verified. Writing goes through a
 * {@link Transaction}; refs are in refs.ts.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { sha256Hex } from '../core/bytes';
import { CanopyError, ioError } from '../core/errors';
import { Limits } from '../core/limits';
import {
  ObjectType, fileChecksum, isLinkMode, objectRelPath, parseArchiveHeader, parseCommit, parseDirMeta, parseDirTree,
  type Commit, type DirMeta, type DirTree, type FileHeader, type RepoMode,
} from '../objects/index';
import { KeyFile } from './keyfile';

export interface InitOptions {
  mode: RepoMode;
  collectionId?: string;
}

/** Repo modes as `core.mode` spells them. */
const MODE_IN_CONFIG: Record<RepoMode, string> = { archive: 'archive-z2', bare: 'bare', 'bare-user-only': 'bare-user-only' };

function modeFromConfig(v: string | undefined, path: string): RepoMode {
  switch (v) {
    case 'archive': case 'archive-z2': return 'archive';
    case 'bare': return 'bare';
    case 'bare-user-only': return 'bare-user-only';
    case undefined: throw new CanopyError('ERR_REPO_INVALID', `${path}/config has no core.mode`, { path });
    default: throw new CanopyError('ERR_REPO_MODE', `repository mode ${v} is not supported (archive, bare and bare-user-only are)`, { path, mode: v });
  }
}

export interface FileObject {
  readonly header: FileHeader;
  /** Content of a regular file; empty for symlinks. */
  readonly content: Buffer;
}

export class Repo {
  private constructor(
    /** Absolute path of the repository. */
    readonly path: string,
    readonly mode: RepoMode,
    private configFile: KeyFile,
  ) {}

  /**
   * Creates a repository. Throws ERR_REPO_EXISTS when `path` already holds
   * one, ERR_IO/ERR_PERMISSION when the directories cannot be made.
   */
  static init(path: string, opts: InitOptions): Repo {
    const abs = resolve(path);
    if (existsSync(join(abs, 'config'))) throw new CanopyError('ERR_REPO_EXISTS', `a repository already exists at ${abs}`, { path: abs });
    try {
      for (const d of ['objects', 'refs/heads', 'refs/remotes', 'refs/mirrors', 'state', 'tmp/cache', 'extensions']) {
        mkdirSync(join(abs, d), { recursive: true });
      }
      const kf = new KeyFile();
      kf.set('core', 'repo_version', '1');
      kf.set('core', 'mode', MODE_IN_CONFIG[opts.mode]);
      if (opts.collectionId) kf.set('core', 'collection-id', opts.collectionId);
      writeFileSync(join(abs, 'config.tmp'), kf.toString());
      renameSync(join(abs, 'config.tmp'), join(abs, 'config'));
    } catch (e) {
      throw ioError(e, 'init repository', abs);
    }
    return Repo.open(abs);
  }

  /** Opens an existing repository. Throws ERR_REPO_INVALID or ERR_REPO_MODE. */
  static open(path: string): Repo {
    const abs = resolve(path);
    let text: string;
    try {
      text = readFileSync(join(abs, 'config'), 'utf8');
    } catch (e) {
      throw new CanopyError('ERR_REPO_INVALID', `${abs} is not a repository (no readable config)`, { path: abs }, { cause: e });
    }
    const kf = KeyFile.parse(text, `${abs}/config`);
    if (kf.get('core', 'repo_version') !== '1') throw new CanopyError('ERR_REPO_INVALID', `${abs}/config: unsupported repo_version`, { path: abs });
    if (!existsSync(join(abs, 'objects'))) throw new CanopyError('ERR_REPO_INVALID', `${abs} has no objects directory`, { path: abs });
    return new Repo(abs, modeFromConfig(kf.get('core', 'mode'), abs), kf);
  }

  /** The parsed `config` (a copy is not made: call {@link saveConfig} after changing it). */
  get config(): KeyFile {
    return this.configFile;
  }

  /** Rewrites `config` atomically. */
  saveConfig(): void {
    const p = join(this.path, 'config');
    try {
      writeFileSync(p + '.tmp', this.configFile.toString());
      renameSync(p + '.tmp', p);
    } catch (e) {
      throw ioError(e, 'write', p);
    }
  }

  /** Re-reads `config` from disk. */
  reloadConfig(): void {
    this.configFile = KeyFile.parse(readFileSync(join(this.path, 'config'), 'utf8'), `${this.path}/config`);
  }

  /** Whether writes are fsynced (core.fsync, default true). */
  get fsyncEnabled(): boolean {
    return this.configFile.getBoolean('core', 'fsync', true);
  }

  objectPath(checksum: string, type: ObjectType): string {
    return join(this.path, objectRelPath(checksum, type, this.mode));
  }

  /** Whether the object is stored (lstat: a bare symlink object need not resolve). */
  hasObject(checksum: string, type: ObjectType): boolean {
    return lstatSync(this.objectPath(checksum, type), { throwIfNoEntry: false }) !== undefined;
  }

  /**
   * Reads a metadata object and checks that its bytes hash to its name.
   * Throws ERR_OBJECT_NOT_FOUND or ERR_CHECKSUM_MISMATCH.
   */
  readMetadataBytes(type: ObjectType, checksum: string): Buffer {
    const p = this.objectPath(checksum, type);
    let data: Buffer;
    try {
      data = readFileSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new CanopyError('ERR_OBJECT_NOT_FOUND', `object ${checksum}.${p.split('.').pop()} is not in ${this.path}`, { checksum, type });
      }
      throw ioError(e, 'read', p);
    }
    if (data.length > Limits.maxMetadataSize) throw new CanopyError('ERR_OBJECT_INVALID', `${p} is larger than the metadata limit`, { checksum });
    if (type !== ObjectType.COMMIT_META) {
      const actual = sha256Hex(data);
      if (actual !== checksum) throw new CanopyError('ERR_CHECKSUM_MISMATCH', `${p} is corrupt: its content hashes to ${actual}`, { checksum, actual, path: p });
    }
    return data;
  }

  loadCommit(checksum: string): Commit {
    return withObject(checksum, 'commit', () => parseCommit(this.readMetadataBytes(ObjectType.COMMIT, checksum)));
  }

  loadDirTree(checksum: string): DirTree {
    return withObject(checksum, 'dirtree', () => parseDirTree(this.readMetadataBytes(ObjectType.DIR_TREE, checksum)));
  }

  loadDirMeta(checksum: string): DirMeta {
    return withObject(checksum, 'dirmeta', () => parseDirMeta(this.readMetadataBytes(ObjectType.DIR_META, checksum)));
  }

  /** The raw detached metadata (`.commitmeta`) of a commit, or undefined. */
  readCommitMeta(commit: string): Buffer | undefined {
    return this.hasObject(commit, ObjectType.COMMIT_META) ? this.readMetadataBytes(ObjectType.COMMIT_META, commit) : undefined;
  }

  /**
   * Reads a file object whole, with its header. In bare mode xattrs are not
   * read here (they need a getfattr call; see xattr-io.ts). With `verify`,
   * recomputes the checksum and throws ERR_CHECKSUM_MISMATCH.
   */
  readFileObject(checksum: string, verify = true): FileObject {
    const p = this.objectPath(checksum, ObjectType.FILE);
    let obj: FileObject;
    try {
      if (this.mode === 'archive') {
        const data = readFileSync(p);
        const { header, dataOffset } = parseArchiveHeader(data);
        const content = isLinkMode(header.mode) ? Buffer.alloc(0) : inflateRawSync(data.subarray(dataOffset), { maxOutputLength: Math.max(1, header.size) });
        if (content.length !== header.size) throw new CanopyError('ERR_OBJECT_INVALID', `${p}: content is ${content.length} bytes, header says ${header.size}`, { checksum });
        obj = { header, content };
      } else {
        const st = lstatSync(p);
        const bareUser = this.mode === 'bare-user-only';
        const header: FileHeader = st.isSymbolicLink()
          ? { uid: bareUser ? 0 : st.uid, gid: bareUser ? 0 : st.gid, mode: 0o120777, symlinkTarget: readlinkSync(p, 'utf8'), xattrs: [] }
          : { uid: bareUser ? 0 : st.uid, gid: bareUser ? 0 : st.gid, mode: st.mode, symlinkTarget: '', xattrs: [] };
        obj = { header, content: st.isSymbolicLink() ? Buffer.alloc(0) : readFileSync(p) };
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CanopyError('ERR_OBJECT_NOT_FOUND', `file object ${checksum} is not in ${this.path}`, { checksum });
      if (e instanceof CanopyError) throw new CanopyError(e.code, `file object ${checksum}: ${e.message}`, { ...e.details, checksum }, { cause: e });
      throw ioError(e, 'read', p);
    }
    if (verify && (this.mode === 'archive' || this.mode === 'bare-user-only')) {
      const actual = fileChecksum(obj.header, obj.content);
      if (actual !== checksum) throw new CanopyError('ERR_CHECKSUM_MISMATCH', `${p} is corrupt: it hashes to ${actual}`, { checksum, actual, path: p });
    }
    return obj;
  }

  /** Directory for temporary files on the repository's file system. */
  get tmpDir(): string {
    return join(this.path, 'tmp');
  }
}

function withObject<T>(checksum: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CanopyError && e.code !== 'ERR_OBJECT_NOT_FOUND' && e.code !== 'ERR_CHECKSUM_MISMATCH') {
      throw new CanopyError(e.code, `${what} ${checksum}: ${e.message}`, { ...e.details, checksum }, { cause: e });
    }
    throw e;
  }
}
