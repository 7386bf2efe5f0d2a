// Every workflow type the worker registers. Workflow code runs in Temporal's sandbox: see
// eslint.config.mjs for what it may not import.
export { helloWorkflow, helloPipelineWorkflow } from './hello';
