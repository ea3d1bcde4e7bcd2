// Plotly figures of the data, the model, the search spaces, search runs and ablation tables, built as plain JSON
// (never plotly.js itself, which does not load in Node); lib/notebook/display.ts shows them in notebooks. Each file of
// lib/notebook/figures/ holds the figures of one subject; notebooks import them all from here (a file, not the folder's
// index: tslab's loader resolves an import only to a file).
export * from './figures/ablation';
export * from './figures/architecture';
export * from './figures/charts';
export * from './figures/correlation';
export * from './figures/images';
export * from './figures/saliency';
export * from './figures/search';
export type { VerticalMarker } from './figures/layout';
