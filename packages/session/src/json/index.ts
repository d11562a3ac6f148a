// Internal: the check that what a store writes as JSON reads back through its schema.
export { type JsonIssue, storableJson } from './storable-json.js'
