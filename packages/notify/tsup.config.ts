import { packageConfig } from '../../tsup.preset'

export default packageConfig({
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
  external: [/^@mortar\//, 'nodemailer', 'vitest', 'fast-check'],
})
