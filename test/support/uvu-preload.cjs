// Loaded by scripts/test.mjs before every test file. uvu's failure formatter assumes an error's
// `details` is a string and silently prints nothing for errors whose `details` is an object (our
// DriveseedError). Wrap every test handler so such errors are rethrown as plain Errors carrying the
// code, message and details; assertion errors pass through untouched.
'use strict';
const Module = require('node:module');

// Tests whose handler is running. When the event loop empties while one is still awaiting, Node ends the
// file without a word (nothing keeps the process alive to settle that promise: a lost wake-up in the
// code under test). Name the test and fail the file instead.
const running = new Set();
process.on('beforeExit', () => {
  if (!running.size) return;
  process.stderr.write(
    `\n  FAIL  ${[...running].map((n) => JSON.stringify(n)).join(', ')}: the event loop emptied while the test ` +
      'awaited a promise nothing can settle any more (no timer, socket, child or native job left)\n',
  );
  process.exitCode = 1;
  running.clear();
});
const origLoad = Module._load;
let patched = false;
Module._load = function (request, _parent, _isMain) {
  const mod = origLoad.apply(this, arguments);
  if (!patched && request === 'uvu' && mod && typeof mod.suite === 'function') {
    patched = true;
    const wrapHandler = (fn, name) =>
      typeof fn !== 'function'
        ? fn
        : async function (...args) {
            running.add(name);
            try {
              return await fn.apply(this, args);
            } catch (err) {
              if (err && typeof err === 'object' && err.details !== undefined && typeof err.details !== 'string') {
                const plain = new Error(`${err.code ? `[${err.code}] ` : ''}${err.message}\n    details: ${JSON.stringify(err.details)}`);
                plain.stack = `Error\n${String(err.stack || '')
                  .split('\n')
                  .slice(1)
                  .join('\n')}`;
                throw plain;
              }
              throw err;
            } finally {
              running.delete(name);
            }
          };
    const wrapSuite = (s) =>
      new Proxy(s, {
        apply(target, thisArg, args) {
          return Reflect.apply(target, thisArg, [args[0], wrapHandler(args[1], args[0])]);
        },
        get(target, prop) {
          const v = Reflect.get(target, prop);
          if (prop === 'only' || prop === 'skip') return (name, fn) => v(name, wrapHandler(fn, name));
          return v;
        },
      });
    const origSuite = mod.suite;
    const wrapped = { ...mod, test: wrapSuite(mod.test), suite: (...a) => wrapSuite(origSuite(...a)) };
    return wrapped;
  }
  return mod;
};
