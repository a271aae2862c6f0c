// The one Node module the loader touches, typed here so the package needs no @types/node.
declare module 'node:fs/promises' {
  export function readFile(path: URL): Promise<Uint8Array<ArrayBuffer>>;
}
