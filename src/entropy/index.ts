// Entropy coding: frequency tables and a rANS coder (used by nn.EntropyBottleneck).
export { frequencyTable, MAX_PRECISION, type FrequencyTable } from './tables.js';
export { RansEncoder, RansDecoder } from './rans.js';
