/** A method taking `Args`; `never[]` for a decorator that fits any method. */
export type MethodOf<Args extends readonly unknown[]> = (this: unknown, ...args: Args) => unknown

/**
 * A legacy method decorator that replaces the method with what `wrap` makes of it; a descriptor
 * without a method (an accessor) is left as it is.
 */
export function methodDecorator<Args extends readonly unknown[]>(
  wrap: (method: MethodOf<Args>) => MethodOf<Args>,
) {
  return <T extends MethodOf<Args>>(
    _target: object,
    _key: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T> => {
    const method = descriptor.value
    if (method === undefined) return descriptor
    return { ...descriptor, value: wrap(method) as T }
  }
}
