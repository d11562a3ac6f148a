import type { LoginThrottle } from './login-throttle.js'

declare const throttle: LoginThrottle
declare function findUser(): Promise<{ id: string } | undefined>
declare function verify(): Promise<boolean>
declare function findOrNull(): Promise<{ id: string } | null>

// What must compile: the check answers the user, or undefined for a wrong password.
export const user: Promise<{ id: string } | undefined> = throttle.attempt(
  { account: 'a' },
  findUser,
)

// What must not: an answer whose failure is not `undefined` would read as a success.
// @ts-expect-error a boolean: `false` is not "no user"
throttle.attempt({ account: 'a' }, verify)
// @ts-expect-error null for no user: answer undefined
throttle.attempt({ account: 'a' }, findOrNull)
// @ts-expect-error the check is required: there is no separate check-then-record
throttle.attempt({ account: 'a' })
