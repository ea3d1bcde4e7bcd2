// Plotly figures of the data, the model, the search spaces, search runs and ablation tables, built as plain JSON
// (never plotly.js itself, which does not load in Node); lib/notebook/display.ts shows them in notebooks. Notebooks
// import them all from here, './lib/notebook/figures'; each file of this folder holds the figures of one subject.
export * from './ablation';
export * from './architecture';
export * from './charts';
export * from './images';
export * from './search';
export type { VerticalMarker } from './layout';
