/** Cents as dollars: `1999` → `$19.99`. */
export function money(cents: number): string {
  return `$${(cents / 100).toFixed(2)}`
}

/** An ISO timestamp as a short UTC date and time: `2026-03-01 09:15 UTC`. */
export function when(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`
}
