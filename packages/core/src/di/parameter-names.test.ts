import { describe, expect, it } from 'vitest'
import { parameterNames } from './parameter-names.js'

describe('parameterNames', () => {
  it('reads the constructor parameter names of a class', () => {
    class Service {
      constructor(
        readonly mailer: unknown,
        readonly clock: unknown,
      ) {}
    }
    expect(parameterNames(Service)).toEqual(['mailer', 'clock'])
  })

  it('is not fooled by defaults with calls, strings and commas', () => {
    class Service {
      constructor(
        readonly a = Math.max(1, 2),
        readonly b = 'x,)',
        readonly c = { d: [1, 2] },
      ) {}
    }
    expect(parameterNames(Service)).toEqual(['a', 'b', 'c'])
  })

  it('leaves destructured parameters unnamed and strips rest dots', () => {
    class Service {
      constructor({ a }: { a: number }, ...rest: unknown[]) {
        void a
        void rest
      }
    }
    expect(parameterNames(Service)).toEqual([undefined, 'rest'])
  })

  it('finds no names for a class without its own constructor', () => {
    class Service {
      copy(): unknown {
        return new (this.constructor as new (x: number) => unknown)(1)
      }
    }
    expect(parameterNames(Service)).toEqual([])
  })

  it('reads a plain function', () => {
    function Legacy(this: unknown, first: unknown, second: unknown) {
      void first
      void second
    }
    expect(parameterNames(Legacy)).toEqual(['first', 'second'])
  })
})
