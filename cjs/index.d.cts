// deeprnn is an ES module only: require('deeprnn') throws. Use
//   import { RNNLM } from 'deeprnn';               // in an ES module
//   const deeprnn = await import('deeprnn');       // from CommonJS
// (TypeScript: "module": "nodenext" or "node16", and import, not require.)

/** deeprnn is an ES module only: require('deeprnn') throws; use import or await import('deeprnn'). */
declare const deeprnnIsAnESModuleOnly: never;
export = deeprnnIsAnESModuleOnly;
