/** Cents as dollars, thousands grouped: `1999` → `$19.99`, `2147483647` → `$21,474,836.47`. */
export function money(cents: number): string {
  // In whole cents: dividing first would round a large amount's last cent.
  const dollars = Math.trunc(cents / 100).toLocaleString('en-US')
  return `$${dollars}.${String(cents % 100).padStart(2, '0')}`
}

/** An ISO timestamp as a short UTC date and time: `2026-03-01 09:15 UTC`. */
export function when(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`
}
