// Stands in for the worker-provided `@azure/functions-core`, as test/fixtures/functions-core-shim.cjs
// does, and keeps the programming model the library hands it: the worker asks it for the worker's
// capabilities (with HTTP streams on, the library then starts its proxy and reports `HttpUri`).
const Module = require('node:module');
const resolve = Module._resolveFilename;
const shim = {
  registerFunction() {
    return { dispose() {} };
  },
  registerHook() {
    return { dispose() {} };
  },
  setProgrammingModel(model) {
    globalThis.__programmingModel = model;
  },
  getProgrammingModel() {
    return globalThis.__programmingModel;
  },
  log() {},
};
Module._resolveFilename = function (request, ...rest) {
  if (request === '@azure/functions-core') return '@azure/functions-core';
  return resolve.call(this, request, ...rest);
};
require.cache['@azure/functions-core'] = { id: '@azure/functions-core', exports: shim, loaded: true };
