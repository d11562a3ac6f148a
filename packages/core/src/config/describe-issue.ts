import type { z } from 'zod'

/**
 * Says what is wrong with a config value, from the issue's kind and the schema's own limits only:
 * never from the input, which may be a secret. For a secret the allowed values are withheld; the
 * app's own check messages are withheld whenever `appTextHidden`, as they may quote the input.
 */
export function describeIssue(
  issue: z.core.$ZodIssue,
  { secret, appTextHidden }: { readonly secret: boolean; readonly appTextHidden: boolean },
): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[issue.expected] ?? `a ${issue.expected}`}`
    case 'too_small':
      return bound(issue.origin, Number(issue.minimum), issue.inclusive !== false, 'least')
    case 'too_big':
      return bound(issue.origin, Number(issue.maximum), issue.inclusive !== false, 'most')
    case 'invalid_format':
      return format(issue)
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`
    case 'invalid_value':
      return secret
        ? 'is not an allowed value'
        : `must be one of: ${issue.values.map(String).join(', ')}`
    case 'invalid_union':
      return 'does not match any allowed form'
    default:
      return appTextHidden ? 'is invalid' : issue.message
  }
}

function format(issue: z.core.$ZodIssueInvalidStringFormat): string {
  if ('prefix' in issue && typeof issue.prefix === 'string')
    return `must start with "${issue.prefix}"`
  if ('suffix' in issue && typeof issue.suffix === 'string')
    return `must end with "${issue.suffix}"`
  if ('includes' in issue && typeof issue.includes === 'string')
    return `must contain "${issue.includes}"`
  if (issue.format === 'regex') return 'must match the required pattern'
  return `must be a valid ${FORMAT_NAMES[issue.format] ?? issue.format.replaceAll('_', ' ')}`
}

const FORMAT_NAMES: Readonly<Record<string, string>> = {
  email: 'email address',
  url: 'URL',
  uuid: 'UUID',
  guid: 'GUID',
  datetime: 'ISO date-time',
  date: 'ISO date',
  time: 'ISO time',
  duration: 'ISO duration',
  ipv4: 'IPv4 address',
  ipv6: 'IPv6 address',
  cidrv4: 'IPv4 range',
  cidrv6: 'IPv6 range',
  json_string: 'JSON string',
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean (true, false, 1, 0, yes, no, on, off)',
  bigint: 'an integer',
  date: 'a date',
  array: 'a comma-separated list',
  object: 'an object',
  string: 'a string',
}

function bound(origin: string, limit: number, inclusive: boolean, side: 'least' | 'most'): string {
  const unit =
    origin === 'string' ? ' characters' : origin === 'array' || origin === 'set' ? ' items' : ''
  if (origin === 'string' && side === 'least' && limit === 1 && inclusive)
    return 'must not be empty'
  if (inclusive) return `must ${unit === ' items' ? 'have' : 'be'} at ${side} ${limit}${unit}`
  if (unit === '') return `must be ${side === 'least' ? 'greater' : 'less'} than ${limit}`
  return `must have ${side === 'least' ? 'more' : 'fewer'} than ${limit}${unit}`
}
