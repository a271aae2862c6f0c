// Metrics, exported as `metrics`.
export { accuracy } from './metrics.js';
