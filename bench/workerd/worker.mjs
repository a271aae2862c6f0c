// The kernel suite as a Cloudflare Worker. Workers' clocks stand still while a
// request computes, so this Worker only runs: GET /cases lists the cases,
// GET /run?case=i&reps=n runs case i n times; bench/run-all.mjs times the
// requests from the host and subtracts the cost of an empty one.
import * as sg from 'snapgrad';
import wasm from 'snapgrad/wasm';
import { suiteCases } from '../page/suite.mjs';

let cases = null;
const instances = [];

export default {
  async fetch(request) {
    if (cases === null) {
      await sg.init({ module: wasm });
      cases = suiteCases(sg);
    }
    const url = new URL(request.url);
    if (url.pathname === '/cases') return Response.json(cases.map(({ key, kernel, shape, unit }) => ({ key, kernel, shape, unit })));
    const i = Number(url.searchParams.get('case'));
    const reps = Number(url.searchParams.get('reps'));
    if (!(i >= 0 && i < cases.length) || !(reps >= 0)) return new Response('bad case or reps', { status: 400 });
    instances[i] ??= cases[i].setup();
    for (let r = 0; r < reps; r++) instances[i].run();
    return new Response('ok');
  },
};
