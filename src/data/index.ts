// Data loading, exported as `data`.
export { DataLoader, type DataLoaderOptions, type Source, type Sources, type SourceArray, type BatchOf, type DTypesFor } from './loader.js';
