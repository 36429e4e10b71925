/* global module */
// `require('tagwise/analysis')` from CommonJS — tslab compiles notebook cells to CommonJS — gives a
// promise of the ES module: `const tagwise = await require('tagwise/analysis')`. The process must
// run TypeScript sources (NODE_OPTIONS='--import <repo>/bin/register.js'; see notebooks/README.md).
module.exports = import('./index.ts');
