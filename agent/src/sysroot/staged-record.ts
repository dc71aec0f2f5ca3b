/**
 * The staged-deployment record, in ostree's format so `ostree admin status`
 * and `ostree admin finalize-staged` understand a deployment Canopy staged
 * (and the reverse): a GVariant `a{sv}` in `<run>/ostree/staged-deployment`
 * with
 *
 * | key | type | value |
 * | --- | --- | --- |
 * | `target` | `a{sv}` | `name` = `<csum>.<serial>`, `osname`, `bootcsum` |
 * | `merge-deployment` | `a{sv}` | same shape, when there is one |
 * | `kargs` | `as` | the kernel arguments, when they were overridden |
 * | `locked` | `b` | finalization is locked |
 *
 * Pure codec.
 */
import { isChecksum } from '../core/bytes';
import { CanopyError } from '../core/errors';
import { assertSafeName } from '../core/names';
import { dictLookup, parse, serialize, variant, type GValue, type VarDict } from '../gvariant/index';
import { deployName, parseDeployName } from './layout';

/** A deployment as the record names it. */
export interface StagedRef {
  stateroot: string;
  csum: string;
  serial: number;
  bootcsum: string;
}

export interface StagedRecord {
  target: StagedRef;
  merge?: StagedRef;
  /** Overridden kernel arguments; absent means "take the merge deployment's at finalization". */
  kargs?: string[];
  locked?: boolean;
}

/** Largest record read. */
export const MAX_STAGED_RECORD = 1024 * 1024;

function refDict(r: StagedRef): VarDict {
  return [
    ['name', variant('s', deployName(r.csum, r.serial))],
    ['osname', variant('s', r.stateroot)],
    ['bootcsum', variant('s', r.bootcsum)],
  ];
}

/** The record's bytes. */
export function serializeStagedRecord(rec: StagedRecord): Buffer {
  const dict: VarDict = [['target', variant('a{sv}', refDict(rec.target) as unknown as GValue)]];
  if (rec.merge) dict.push(['merge-deployment', variant('a{sv}', refDict(rec.merge) as unknown as GValue)]);
  if (rec.kargs) dict.push(['kargs', variant('as', rec.kargs)]);
  if (rec.locked) dict.push(['locked', variant('b', true)]);
  return serialize('a{sv}', dict as unknown as GValue);
}

function invalid(why: string): CanopyError {
  return new CanopyError('ERR_SYSROOT_INVALID', `staged-deployment record: ${why}`, {});
}

function str(dict: VarDict, key: string): string {
  const v = dictLookup(dict, key);
  if (!v || v.type !== 's') throw invalid(`missing string ${key}`);
  return v.value as string;
}

function parseRef(v: GValue): StagedRef {
  const dict = v as VarDict;
  const name = str(dict, 'name');
  const parsed = parseDeployName(name);
  if (!parsed) throw invalid(`invalid deployment name ${JSON.stringify(name.slice(0, 200))}`);
  const stateroot = str(dict, 'osname');
  try {
    assertSafeName(stateroot, 'stateroot');
  } catch (e) {
    throw invalid((e as Error).message);
  }
  const bootcsum = str(dict, 'bootcsum');
  if (!isChecksum(bootcsum)) throw invalid('bootcsum is not 64 hex digits');
  return { stateroot, csum: parsed.csum, serial: parsed.serial, bootcsum };
}

/** Parses a record. Throws ERR_SYSROOT_INVALID (and the GVariant codes for malformed bytes). */
export function parseStagedRecord(bytes: Uint8Array): StagedRecord {
  if (bytes.length > MAX_STAGED_RECORD) throw invalid('larger than 1 MiB');
  const dict = parse('a{sv}', bytes) as unknown as VarDict;
  const target = dictLookup(dict, 'target');
  if (!target || target.type !== 'a{sv}') throw invalid('no target');
  const rec: StagedRecord = { target: parseRef(target.value) };
  const merge = dictLookup(dict, 'merge-deployment');
  if (merge && merge.type === 'a{sv}') rec.merge = parseRef(merge.value);
  const kargs = dictLookup(dict, 'kargs');
  if (kargs && kargs.type === 'as') rec.kargs = [...(kargs.value as string[])];
  const locked = dictLookup(dict, 'locked');
  if (locked && locked.type === 'b') rec.locked = locked.value as boolean;
  return rec;
}
