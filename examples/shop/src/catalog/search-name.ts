/**
 * A product name as the search compares it: Unicode-normalized (NFC) and lower-cased by
 * JavaScript, stored beside the name and applied to the query alike, so a search answers the
 * same on every engine. In SQL, SQLite's lower() folds ASCII only and MariaDB's default collation
 * ignores accents; here 'ÉCLAIR' finds 'Éclair' and 'eclair' does not, everywhere.
 */
export function searchName(text: string): string {
  return text.normalize('NFC').toLowerCase()
}
