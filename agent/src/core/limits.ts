/**
 * Size limits applied to untrusted input. Every parser checks a declared
 * length against one of these before it allocates.
 */
export const Limits = {
  /** OSTree's own cap on a metadata object (commit, dirtree, dirmeta, summary). */
  maxMetadataSize: 128 * 1024 * 1024,
  /** The largest file-object header we accept (uid, gid, mode, target, xattrs). */
  maxFileHeaderSize: 16 * 1024 * 1024,
  /** GVariant nesting depth (GLib uses 128). */
  maxDepth: 64,
  /** Longest name in a dirtree entry (Linux NAME_MAX). */
  maxNameLength: 255,
  /** Longest symlink target (Linux PATH_MAX). */
  maxSymlinkTarget: 4096,
  /** Most entries in one dirtree. */
  maxDirEntries: 1_000_000,
} as const;
