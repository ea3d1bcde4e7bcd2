// Transitive reload of lib/ in the tslab kernel. tslab compiles the files a cell imports in memory and, when one of
// them changed on disk, compiles it again and drops its loaded module; but the modules that import it stay loaded and
// keep the old one, so an edit reached a cell only through a direct import. createReloader widens each batch of
// recompiled files to every loaded file that imports one of them, directly or not, so that all of those load afresh.
'use strict';
const path = require('node:path');

/** The files a compiled module requires by relative path, named as tslab names its compiled files. */
function requiredFiles(file, js) {
  return [...js.matchAll(/\brequire\("(\.\.?\/[^"]*)"\)/g)].map(([, id]) => {
    const required = path.posix.join(path.posix.dirname(file), id);
    return path.posix.extname(required) === '' ? required + '.js' : required; // tslab's own rule
  });
}

/**
 * Returns a function for one tslab converter: given the files a cell's compilation emitted ({ path, data }, as tslab's
 * convert returns them), it returns them together with the earlier-compiled files that import a recompiled one.
 */
function createReloader() {
  const compiled = new Map();
  return (outputs) => {
    const changed = outputs.filter((o) => compiled.has(o.path)).map((o) => o.path);
    for (const o of outputs) compiled.set(o.path, o.data);
    if (changed.length === 0) return outputs;
    const importers = new Map();
    for (const [file, js] of compiled) {
      for (const dep of requiredFiles(file, js)) importers.set(dep, [...(importers.get(dep) ?? []), file]);
    }
    const stale = new Set(changed);
    for (const file of stale) for (const importer of importers.get(file) ?? []) stale.add(importer);
    const given = new Set(outputs.map((o) => o.path));
    const dependents = [...stale].filter((file) => !given.has(file));
    return [...outputs, ...dependents.map((file) => ({ path: file, data: compiled.get(file) }))];
  };
}

module.exports = { createReloader };
