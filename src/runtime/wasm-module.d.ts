// The type of `import wasm from 'snapgrad/wasm'` (copied to dist/types/wasm.d.ts): in Workers the
// import is a compiled module (wrangler's CompiledWasm rule), the value init({ module }) takes.
declare const wasm: WebAssembly.Module;
export default wasm;
