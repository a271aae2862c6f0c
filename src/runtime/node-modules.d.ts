// The one Node module the loader and io read files with, typed here so the package needs no @types/node.
declare module 'node:fs/promises' {
  export function readFile(path: URL | string): Promise<Uint8Array<ArrayBuffer>>;
}
// The pool's Node modules (Node and Deno), typed as far as the pool uses them.
declare module 'node:os' {
  export function availableParallelism(): number;
}
declare module 'node:worker_threads' {
  export class Worker {
    constructor(script: URL, options?: { execArgv?: string[] });
    unref(): void;
    terminate(): Promise<number>;
    postMessage(message: unknown): void;
    once(event: 'message' | 'error', listener: (value: any) => void): this;
    off(event: 'message' | 'error', listener: (value: any) => void): this;
  }
  export const parentPort: {
    once(event: 'message', listener: (value: any) => void): void;
    postMessage(message: unknown): void;
    close(): void;
  } | null;
}
