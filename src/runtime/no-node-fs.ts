// Stands in for node:fs/promises in dist/snapgrad.browser.js (the build for
// browsers and Workers): web bundlers cannot resolve node: modules, and the
// code that reads files this way runs only when the runtime is Node.
export async function readFile(path: URL | string): Promise<Uint8Array<ArrayBuffer>> {
  throw new Error(`cannot read ${String(path)}: this is the browser/Workers build of snapgrad, which has no file system access; pass a URL or the bytes`);
}
