// The `ste` namespace with the ops freeze() can trace wrapped (see traced.ts).
import { argmaxOneHot as argmaxOneHotOp } from '../ste/choice.js';
import * as q from '../ste/quantize.js';
import * as sg from '../ste/sign.js';
import * as st from '../ste/stochastic.js';
import { traced } from './trace.js';

// Everything else passes through; the explicit exports below take precedence over the star export.
export * from '../ste/index.js';
export const sign = traced('ste.sign', sg.sign);
export const binarize = traced('ste.binarize', sg.binarize);
export const round = traced('ste.round', q.round);
export const floor = traced('ste.floor', q.floor);
export const quantize = traced('ste.quantize', q.quantize);
export const ternarize = traced('ste.ternarize', q.ternarize);
export const dorefa = traced('ste.dorefa', q.dorefa);
export const argmaxOneHot = traced('ste.argmaxOneHot', argmaxOneHotOp);
export const categorical = traced('ste.categorical', st.categorical);
export const reinmax = traced('ste.reinmax', st.reinmax);
export const bernoulli = traced('ste.bernoulli', st.bernoulli);
export const gumbelRao = traced('ste.gumbelRao', st.gumbelRao);
