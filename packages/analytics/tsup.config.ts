import { packageConfig } from '../../tsup.preset'

export default packageConfig({
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
  external: [/^@mortar\//, 'pg', 'chart.js', 'vitest', 'fast-check'],
  // The dashboard finds chart.js from import.meta.url; the CJS build needs it shimmed.
  shims: true,
})
