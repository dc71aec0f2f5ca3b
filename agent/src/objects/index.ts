/** The pure OSTree object model: bytes in, values out, and back. */
export * from './object-type';
export * from './xattrs';
export * from './dirmeta';
export * from './dirtree';
export * from './commit';
export * from './file-header';
export * from './summary';
