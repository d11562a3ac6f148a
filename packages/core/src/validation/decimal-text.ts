interface Decimal {
  readonly negative: boolean
  /** Significant digits without leading or trailing zeros; '' for zero. */
  readonly digits: string
  /** The value is `digits × 10^power`. */
  readonly power: number
}

function parseDecimal(text: string): Decimal | undefined {
  const parts = /^([-+]?)(\d*)(?:\.(\d*))?(?:e([-+]?\d+))?$/i.exec(text)
  if (parts === null) return undefined
  const [, sign, whole = '', fraction = '', exponent = '0'] = parts
  if (whole === '' && fraction === '') return undefined
  const leading = (whole + fraction).replace(/^0+/, '')
  const digits = leading.replace(/0+$/, '')
  const power = Number(exponent) - fraction.length + (leading.length - digits.length)
  return { negative: sign === '-' && digits !== '', digits, power }
}

/**
 * A decimal numeral's exact value as sign, digits and exponent without leading or trailing zeros
 * (`1.50` and `15e-1` alike), or undefined for text that is not a decimal numeral.
 */
export function decimalOf(text: string): string | undefined {
  const decimal = parseDecimal(text)
  if (decimal === undefined) return undefined
  if (decimal.digits === '') return '0'
  return `${decimal.negative ? '-' : ''}${decimal.digits}e${decimal.power}`
}

/** Whether a decimal numeral names a whole number (`12`, `1.20e1`, `0.0`), read exactly. */
export function isWholeDecimal(text: string): boolean {
  const decimal = parseDecimal(text)
  return decimal !== undefined && (decimal.digits === '' || decimal.power >= 0)
}
