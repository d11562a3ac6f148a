import { globalToken } from '../di/token.js'

/**
 * The shape of the config object given to `createApp`, as {@link APP_CONFIG} resolves it. Empty
 * here: an app declares its fields by declaration merging, so injecting the config is typed.
 *
 * @example
 * ```ts
 * import { defineConfig } from '@mortar/core'
 * import { z } from 'zod'
 *
 * export const config = defineConfig(z.object({ port: z.number().default(3000) }))
 * declare module '@mortar/core' {
 *   interface AppConfig { readonly port: number }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface AppConfig {}

/**
 * The config object given to `createApp`, bound before any module registers.
 *
 * @example
 * ```ts
 * import { APP_CONFIG, defineModule } from '@mortar/core'
 *
 * export const serverModule = defineModule({
 *   name: 'server',
 *   register(binder) {
 *     binder.bind(PORT, { inject: [APP_CONFIG], useFactory: (config) => config.port })
 *   },
 * })
 * ```
 */
export const APP_CONFIG = globalToken<AppConfig>('mortar.config')
