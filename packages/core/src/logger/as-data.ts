/**
 * `value` copied as JSON writes it (own enumerable fields, a few levels down), every field kept:
 * a copy has no prototype, so a `__proto__` field (JSON.parse makes one from a request body)
 * stays data. pino's redaction copies what its wildcard paths (`*.password`) reach by assignment,
 * which set the copy's prototype from such a field and dropped it from the line. Errors (the
 * `err` serializer writes them) and values with a `toJSON` (a `Secret`, a Date) are left as
 * they are.
 */
export function asData<T>(value: T, depth = 0): T {
  if (depth > 4 || typeof value !== 'object' || value === null) return value
  if (value instanceof Error || typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return value
  }
  if (Array.isArray(value)) return value.map((item) => asData(item, depth + 1)) as T
  const copy: Record<string, unknown> = Object.create(null)
  for (const [key, item] of Object.entries(value)) copy[key] = asData(item, depth + 1)
  return copy as T
}
