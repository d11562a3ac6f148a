// Type tests: checked by `tsc -p tsconfig.json`, never run. Each @ts-expect-error must fail to compile.
import { z } from 'zod'
import { sessionModule } from './session-module.js'

const PASSWORD = 'types-0123456789abcdef0123456789abcdef'
const sessions = sessionModule({
  cookieName: 'test.session',
  password: PASSWORD,
  schema: z.object({
    cart: z.array(z.string()).default([]),
    theme: z.enum(['light', 'dark']).optional(),
  }),
  resolvePrincipal: (data) => {
    // The resolver sees the schema's output type.
    const cart: string[] = data.cart
    return cart.length > 0 ? {} : undefined
  },
})

export async function typedData(): Promise<void> {
  const current = sessions.current()
  const cart: string[] = current.data.cart
  current.data.theme = 'dark'
  // @ts-expect-error: not a value of the schema's enum
  current.data.theme = 'blue'
  // @ts-expect-error: not a field of the schema
  current.data.nope = 1
  await current.save()
  void cart
}

// @ts-expect-error: the schema is required
sessionModule({ cookieName: 'test.session', password: PASSWORD })

sessionModule({
  cookieName: 'test.session',
  password: PASSWORD,
  schema: z.object({}),
  // @ts-expect-error: rolling is seconds or a boolean, not a string
  rolling: '5m',
})

sessionModule({
  cookieName: 'test.session',
  password: PASSWORD,
  schema: z.object({}),
  // @ts-expect-error: 'memory' is not a registry choice; pass a registry instance instead
  registry: 'memory',
})

// @ts-expect-error: the cookie name is required (one per app on a host)
sessionModule({ password: PASSWORD, schema: z.object({}) })
