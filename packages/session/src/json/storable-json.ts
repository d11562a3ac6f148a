import type { z } from 'zod'

/** Why a value would not read back: where (a dotted path, '' for the root) and what, never the value. */
export interface JsonIssue {
  readonly path: string
  readonly message: string
}

/**
 * The JSON that stores `output` (what `schema` output for a value), or why it would not read
 * back. Sessions and state entries are stored as JSON and parsed with the schema again when
 * read, so a value the schema accepts but whose JSON it refuses (a Date, a Map or Set, a bigint,
 * `undefined` in an array, a transform's output) was accepted at the write and refused at every
 * read after it: the session dropped whole, the state entry unreadable. Checked at the write, it
 * is the writer's typed error and nothing stored changes.
 */
export function storableJson(
  schema: z.ZodType,
  output: unknown,
):
  | { readonly ok: true; readonly json: string }
  | { readonly ok: false; readonly issues: readonly JsonIssue[] } {
  let json: string | undefined
  try {
    json = JSON.stringify(output)
  } catch {
    // The error's text may name the value's keys; the issue says only what kind of fault it is.
    return notJson('cannot be written as JSON (a bigint, or an object that contains itself)')
  }
  if (json === undefined) return notJson('is not a JSON value (undefined, a function or a symbol)')
  const reread = schema.safeParse(JSON.parse(json))
  if (reread.success) return { ok: true, json }
  return {
    ok: false,
    issues: reread.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message: `${issue.message} once stored as JSON: keep the schema's output JSON (strings for dates, arrays for sets)`,
    })),
  }
}

function notJson(message: string) {
  return { ok: false, issues: [{ path: '', message }] } as const
}
