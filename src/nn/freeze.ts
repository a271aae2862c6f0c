// freeze() is a compiler over any Module (src/freeze/); nn re-exports it here.
export { freeze, type FreezeOptions } from '../freeze/compile.js';
export { FrozenModel } from '../freeze/model.js';
export type { FrozenStage, Activation } from '../freeze/types.js';
