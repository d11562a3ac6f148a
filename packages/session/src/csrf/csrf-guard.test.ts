import { describe, expect, it } from 'vitest'
import { type CsrfRequest, checkCsrf, resolveCsrfOptions } from './csrf-guard.js'

const TOKEN = 'tok_0123456789abcdefghij'
const options = resolveCsrfOptions({ trustedOrigins: ['https://admin.shop.example'] })

function request(method: string, headers: Record<string, string>, url = '/'): CsrfRequest {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
  return { method, url, header: (name) => lower[name] }
}

const host = { host: 'shop.example' }

describe('checkCsrf', () => {
  it.each(['GET', 'HEAD', 'OPTIONS'])('lets a safe %s through whatever its origin', (method) => {
    expect(checkCsrf(request(method, { 'sec-fetch-site': 'cross-site' }), TOKEN, options)).toBe(
      'pass',
    )
  })

  it.each([
    ['GET', { 'x-http-method-override': 'DELETE' }, '/cards/1'],
    ['HEAD', { 'X-HTTP-Method': 'put' }, '/cards/1'],
    ['OPTIONS', { 'x-method-override': ' PATCH ' }, '/cards/1'],
    ['GET', { 'x-http-method-override': 'GET, DELETE' }, '/cards/1'],
    ['GET', {}, '/cards/1?_method=DELETE'],
    ['GET', {}, '/cards/1?a=1&_method=post'],
    ['GET', {}, '/cards/1?_method=GET&_method=DELETE'],
    ['GET', {}, '/cards/1?_method=%44ELETE'],
  ])('judges a %s with a method override %j %s as unsafe', (method, headers, url) => {
    const forged = { ...headers, 'sec-fetch-site': 'cross-site' }
    expect(checkCsrf(request(method, forged, url), TOKEN, options)).toEqual({
      reject: 'cross-site',
    })
    expect(checkCsrf(request(method, headers, url), TOKEN, options)).toEqual({
      reject: 'missing-token',
    })
    expect(
      checkCsrf(request(method, { ...headers, 'x-csrf-token': TOKEN }, url), TOKEN, options),
    ).toBe('pass')
  })

  it('lets a safe request with a safe override through', () => {
    const headers = { 'sec-fetch-site': 'cross-site', 'x-http-method-override': 'GET' }
    expect(checkCsrf(request('GET', headers, '/a?_method=HEAD'), TOKEN, options)).toBe('pass')
  })

  it.each([
    ['same origin', { ...host, origin: 'https://shop.example' }],
    [
      'same origin, explicit default port',
      { host: 'shop.example:443', origin: 'https://shop.example' },
    ],
    ['a trusted origin', { ...host, origin: 'https://admin.shop.example' }],
    ['sec-fetch-site same-origin', { 'sec-fetch-site': 'same-origin' }],
    ['sec-fetch-site none (typed by the user)', { 'sec-fetch-site': 'none' }],
    [
      'same-site from a trusted origin',
      { 'sec-fetch-site': 'same-site', origin: 'https://admin.shop.example' },
    ],
    ['no origin headers and the right token', { 'x-csrf-token': TOKEN }],
  ])('accepts a POST from %s', (_name, headers) => {
    expect(checkCsrf(request('POST', headers), TOKEN, options)).toBe('pass')
  })

  it('refuses, when the cookie is Secure, an http page of its own host (a network attacker’s)', () => {
    // The Host header names no scheme, and a browser without fetch metadata (Safari before
    // 16.4) sends a Lax cookie from http://shop.example to https://shop.example.
    const plain = { ...host, origin: 'http://shop.example' }
    const secure = resolveCsrfOptions({}, { httpsOnly: true })
    expect(checkCsrf(request('POST', plain), TOKEN, secure)).toEqual({
      reject: 'untrusted-origin',
    })
    const own = { ...host, origin: 'https://shop.example' }
    expect(checkCsrf(request('POST', own), TOKEN, secure)).toBe('pass')
    // Without a Secure cookie (development) the http page is the app's, and so is loopback always.
    expect(checkCsrf(request('POST', plain), TOKEN, resolveCsrfOptions({}))).toBe('pass')
    const local = { host: 'localhost:3000', origin: 'http://localhost:3000' }
    expect(checkCsrf(request('POST', local), TOKEN, secure)).toBe('pass')
  })

  it.each([
    ['cross origin', { ...host, origin: 'https://evil.example' }, 'untrusted-origin'],
    ['origin null', { ...host, origin: 'null' }, 'untrusted-origin'],
    [
      'an origin on another port',
      { ...host, origin: 'https://shop.example:8443' },
      'untrusted-origin',
    ],
    ['sec-fetch-site cross-site', { 'sec-fetch-site': 'cross-site' }, 'cross-site'],
    [
      'sec-fetch-site cross-site with our token',
      { 'sec-fetch-site': 'cross-site', 'x-csrf-token': TOKEN },
      'cross-site',
    ],
    [
      'sec-fetch-site same-site (a sibling subdomain)',
      { 'sec-fetch-site': 'same-site', origin: 'https://blog.shop.example' },
      'cross-site',
    ],
    ['no origin headers and no token', {}, 'missing-token'],
    [
      'no origin headers and a wrong token',
      { 'x-csrf-token': `${TOKEN.slice(0, -1)}X` },
      'bad-token',
    ],
    ['no origin headers and a short token', { 'x-csrf-token': 'tok' }, 'bad-token'],
  ])('refuses a DELETE from %s', (_name, headers, reason) => {
    expect(checkCsrf(request('DELETE', headers), TOKEN, options)).toEqual({ reject: reason })
  })

  it('leaves a form post without origin headers to the form field, when form tokens are on', () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }
    expect(checkCsrf(request('POST', form), TOKEN, options)).toEqual({ reject: 'missing-token' })
    const forms = resolveCsrfOptions({ formField: '_csrf' })
    for (const type of [
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'text/plain',
    ]) {
      expect(checkCsrf(request('POST', { 'content-type': type }), TOKEN, forms)).toBe('form-token')
    }
    expect(
      checkCsrf(request('POST', { 'content-type': 'application/json' }), TOKEN, forms),
    ).toEqual({
      reject: 'missing-token',
    })
    expect(
      checkCsrf(request('PUT', { 'content-type': 'application/json' }), TOKEN, options),
    ).toEqual({
      reject: 'missing-token',
    })
  })

  it('refuses a trusted origin that is not an origin', () => {
    expect(() => resolveCsrfOptions({ trustedOrigins: ['admin.shop.example'] })).toThrow(
      /is not an origin/,
    )
  })
})
