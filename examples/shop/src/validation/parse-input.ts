import { ValidationError } from '@mortar/core'
import type { z } from 'zod'

/**
 * `input` parsed by `schema`, or a 422 `E_VALIDATION` problem naming every bad field: how every
 * route of the shop reads a body, a query or path parameters.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input)
  if (!parsed.success) throw ValidationError.fromZod(parsed.error)
  return parsed.data
}
