// Reading and writing data: safetensors, IDX (MNIST), and the byte sources they share.
export { readBytes, gunzip, isGzip, type ByteSource, type ReadBytesOptions, type GunzipOptions, type GunzipLimits } from './source.js';
export { loadIdx, parseIdx, parseIdxHeader, type IdxOptions, type IdxHeader, type LoadIdxOptions } from './idx.js';
export { loadMnist, type Mnist, type MnistOptions } from './mnist.js';
export { saveSafetensors, loadSafetensors, parseSafetensors, type Safetensors } from './safetensors.js';
export { saveCheckpoint, loadCheckpoint, type SaveCheckpointOptions, type LoadCheckpointOptions, type LoadedCheckpoint } from './checkpoint.js';
