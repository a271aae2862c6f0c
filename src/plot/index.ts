// Charts without a browser: line series to SVG (any runtime) or PNG (runtimes with CompressionStream).
export { lineChartSvg } from './svg.js';
export { lineChartPng } from './raster.js';
export { encodePng } from './png.js';
export type { Series, ChartOptions } from './chart.js';
