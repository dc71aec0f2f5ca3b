/** Pure, bounded GVariant codec: the serialization OSTree uses for its metadata. */
export { parse, readOffset, type ParseOptions } from './parse';
export { serialize, writeOffsets } from './serialize';
export { parseType, isValidType, alignUp, chooseOffsetWidth, offsetWidthForSize, type GType } from './type';
export { Variant, variant, dictLookup, type GValue, type VarDict } from './value';
export { parseVariantText, type TextParseOptions } from './text';
export { printVariantText, printVariant, formatDouble } from './text-print';
