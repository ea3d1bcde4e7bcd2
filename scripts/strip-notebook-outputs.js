#!/usr/bin/env node
// git's clean filter for notebooks (configured by scripts/setup.sh, named in .gitattributes): what is committed is the
// notebook without outputs and execution counts, whatever a saved session left in the working copy. Reads the
// notebook on stdin, writes it on stdout in the layout Jupyter saves (indent 1, a final newline).
let text = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (text += chunk));
process.stdin.on('end', () => {
  let notebook;
  try {
    notebook = JSON.parse(text);
  } catch {
    process.stdout.write(text); // not JSON (a conflict, a half-saved file): committed as it is, for git to show
    return;
  }
  // Cells in one key order (the committed one; Jupyter saves them sorted), so that a save changes no line by itself.
  const ORDER = ['cell_type', 'id', 'metadata', 'source', 'execution_count', 'outputs'];
  notebook.cells = (notebook.cells ?? []).map((cell) => {
    if (cell.cell_type === 'code') {
      cell.outputs = [];
      cell.execution_count = null;
      if (cell.metadata) delete cell.metadata.execution; // nbclient's timestamps
    }
    const keys = [...ORDER.filter((k) => k in cell), ...Object.keys(cell).filter((k) => !ORDER.includes(k))];
    return Object.fromEntries(keys.map((k) => [k, cell[k]]));
  });
  // The kernel fills in language_info when it runs; the committed notebook keeps only what names the language.
  const info = notebook.metadata?.language_info;
  if (info) {
    const { file_extension, mimetype, name } = info;
    notebook.metadata.language_info = { file_extension, mimetype, name };
  }
  process.stdout.write(JSON.stringify(notebook, null, 1) + '\n');
});
