// Internal: what the memory and Kysely stores hold alike, so their namespaces are made alike.
import { type Clock, SystemClock } from '@mortar/core'
import type { z } from 'zod'
import type { StateNamespaceOptions } from './state-store.js'
import { checkMaxBytes, checkNamespaceName, DEFAULT_STATE_MAX_BYTES } from './state-values.js'

/** A namespace's fixed parts, checked. */
export interface NamespaceSettings {
  readonly clock: Clock
  readonly name: string
  readonly schema: z.ZodType
  readonly maxBytes: number
}

/** A store's clock and default size limit, and the checked settings of each namespace it opens. */
export class StateStoreDefaults {
  readonly clock: Clock
  readonly #maxBytes: number

  constructor(options: { readonly clock?: Clock; readonly maxBytes?: number }) {
    this.clock = options.clock ?? new SystemClock()
    this.#maxBytes = checkMaxBytes(options.maxBytes ?? DEFAULT_STATE_MAX_BYTES)
  }

  namespace(name: string, schema: z.ZodType, options: StateNamespaceOptions): NamespaceSettings {
    return {
      clock: this.clock,
      name: checkNamespaceName(name),
      schema,
      maxBytes: checkMaxBytes(options.maxBytes ?? this.#maxBytes),
    }
  }
}
