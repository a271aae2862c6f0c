// Image grids for example output; PNG encoding is the library's (sg.plot.encodePng).
import * as sg from '../dist/snapgrad.js';

/** Encodes width x height gray pixels (0..255, row-major) as PNG bytes. */
export function encodeGrayPng(pixels, width, height) {
  return sg.plot.encodePng(pixels, width, height, 1);
}

/** Tiles 28x28 images (values 0..1) into a grid: rows of `columns` images, 2-pixel gaps. */
export function imageGrid(images, columns, size = 28) {
  const rows = Math.ceil(images.length / columns);
  const gap = 2;
  const width = columns * (size + gap) + gap;
  const height = rows * (size + gap) + gap;
  const pixels = new Uint8Array(width * height).fill(128);
  images.forEach((img, i) => {
    const ox = gap + (i % columns) * (size + gap);
    const oy = gap + Math.floor(i / columns) * (size + gap);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) pixels[(oy + y) * width + ox + x] = Math.max(0, Math.min(255, Math.round(255 * img[y * size + x])));
    }
  });
  return { pixels, width, height };
}
