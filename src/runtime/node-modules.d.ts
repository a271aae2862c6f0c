// The one Node module the loader and io read files with, typed here so the package needs no @types/node.
declare module 'node:fs/promises' {
  export function readFile(path: URL | string): Promise<Uint8Array<ArrayBuffer>>;
}
