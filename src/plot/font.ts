/**
 * A 3x5 pixel font for chart text in PNGs (upper case, digits, a little
 * punctuation; lower case draws as upper case). Each glyph is five rows of
 * three bits, left pixel = 4. Characters it lacks draw as '?'.
 */
const GLYPHS: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7], '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 1, 1], '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  A: [2, 5, 7, 5, 5], B: [6, 5, 6, 5, 6], C: [3, 4, 4, 4, 3], D: [6, 5, 5, 5, 6], E: [7, 4, 6, 4, 7],
  F: [7, 4, 6, 4, 4], G: [3, 4, 5, 5, 3], H: [5, 5, 7, 5, 5], I: [7, 2, 2, 2, 7], J: [1, 1, 1, 5, 2],
  K: [5, 5, 6, 5, 5], L: [4, 4, 4, 4, 7], M: [5, 7, 7, 5, 5], N: [6, 5, 5, 5, 5], O: [2, 5, 5, 5, 2],
  P: [6, 5, 6, 4, 4], Q: [2, 5, 5, 6, 3], R: [6, 5, 6, 5, 5], S: [3, 4, 2, 1, 6], T: [7, 2, 2, 2, 2],
  U: [5, 5, 5, 5, 7], V: [5, 5, 5, 5, 2], W: [5, 5, 7, 7, 5], X: [5, 5, 2, 5, 5], Y: [5, 5, 2, 2, 2],
  Z: [7, 1, 2, 4, 7],
  '.': [0, 0, 0, 0, 2], '-': [0, 0, 7, 0, 0], '+': [0, 2, 7, 2, 0], '=': [0, 7, 0, 7, 0], '(': [1, 2, 2, 2, 1],
  ')': [4, 2, 2, 2, 4], '/': [1, 1, 2, 4, 4], ':': [0, 2, 0, 2, 0], ',': [0, 0, 0, 2, 4], '%': [5, 1, 2, 4, 5],
  '_': [0, 0, 0, 0, 7], ' ': [0, 0, 0, 0, 0], '?': [7, 1, 2, 0, 2],
};

/** The 5 rows of a character's glyph. */
export function glyph(ch: string): number[] {
  return GLYPHS[ch.toUpperCase()] ?? GLYPHS['?'];
}

/** Glyph cell width and height in font pixels, with one pixel of spacing after each character. */
export const GLYPH_W = 4;
export const GLYPH_H = 5;
