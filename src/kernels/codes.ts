// Op codes shared with assembly/elementwise.ts and assembly/quant.ts.
export const Unary = { neg: 0, relu: 1, exp: 2, log: 3, tanh: 4, sigmoid: 5, square: 6, sqrt: 7, abs: 8 } as const;
export type UnaryName = keyof typeof Unary;

export const Binary = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5 } as const;
export type BinaryName = keyof typeof Binary;

export const Hard = { sign: 0, binarize: 1, round: 2, floor: 3 } as const;
export type HardName = keyof typeof Hard;
