// The build every @mortar package shares (DESIGN: ESM + CJS + d.ts, SWC for decorator
// metadata); each package's tsup.config.ts names only its entries and its peers.
import { defineConfig, type Options } from 'tsup'

/** What a package adds to the preset: its entry points and the peers it must not bundle. */
export interface PackageBuild {
  readonly entry: Record<string, string>
  readonly external: readonly (string | RegExp)[]
  /** Shims `import.meta.url` and `__dirname` in the other format, for a package that needs them. */
  readonly shims?: boolean
}

/** The tsup config of one @mortar package. */
export function packageConfig(build: PackageBuild): ReturnType<typeof defineConfig> {
  const options: Options = {
    entry: build.entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    // Shared chunks in both formats: a subpath entry must see the same classes and context store as the main one.
    splitting: true,
    sourcemap: true,
    platform: 'node',
    target: 'node22',
    // tsup's own default strips `node:` and would emit `node:sqlite` as the missing package `sqlite`.
    removeNodeProtocol: false,
    shims: build.shims ?? false,
    // tsup's SWC step (used because emitDecoratorMetadata is on) ignores the tsconfig flag.
    swc: { jsc: { transform: { useDefineForClassFields: false } } },
    // Peers every package has, then the package's own (drivers, test tools for /testing).
    external: ['tsyringe', 'reflect-metadata', 'zod', 'kysely', ...build.external],
  }
  return defineConfig(options)
}
