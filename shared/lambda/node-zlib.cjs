// node:zlib for the Lambda bundles, required rather than imported: see REQUIRED_BUILTINS in infra/bundling.ts.
module.exports = process.getBuiltinModule('node:zlib');
