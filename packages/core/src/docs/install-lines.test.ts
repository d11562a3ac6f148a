import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

// Every README's `npm install` line names each dependency with the range Mortar's packages
// accept: a bare name installs npm's latest, which a peer range may refuse (kysely 0.28 did).
const root = join(import.meta.dirname, '../../../..')

function readmes(): string[] {
  const files = [join(root, 'README.md')]
  for (const group of ['packages', 'examples']) {
    for (const name of readdirSync(join(root, group))) {
      const file = join(root, group, name, 'README.md')
      if (existsSync(file)) files.push(file)
    }
  }
  return files
}

function peerRanges(): Map<string, Set<string>> {
  const ranges = new Map<string, Set<string>>()
  for (const name of readdirSync(join(root, 'packages'))) {
    const file = join(root, 'packages', name, 'package.json')
    if (!existsSync(file)) continue
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as {
      peerDependencies?: Record<string, string>
    }
    for (const [dependency, range] of Object.entries(manifest.peerDependencies ?? {})) {
      if (!ranges.has(dependency)) ranges.set(dependency, new Set())
      ranges.get(dependency)?.add(range)
    }
  }
  return ranges
}

interface InstallLine {
  readonly file: string
  readonly line: string
}

function installLines(): InstallLine[] {
  const found: InstallLine[] = []
  for (const file of readmes()) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (/^\s*npm (install|i|add)\s/.test(line)) found.push({ file, line: line.trim() })
    }
  }
  return found
}

/** The problems of one line: bare names, and ranges other than the peers' own. */
function problemsOf(line: string, peers: Map<string, Set<string>>): string[] {
  const problems: string[] = []
  const [command = '', comment = ''] = line.split(/\s#/, 2)
  const specs = command
    .split(/\s+/)
    .slice(2)
    .filter((arg) => arg !== '' && !arg.startsWith('-'))
  // Alternatives named in the comment ('mysql2@^3.11.0') are held to the same ranges.
  const alternatives = [...comment.matchAll(/'([^']+@[^']+)'/g)].map((match) => match[1] ?? '')
  for (const raw of [...specs, ...alternatives]) {
    const spec = raw.replace(/^'|'$/g, '')
    const at = spec.lastIndexOf('@')
    const name = at > 0 ? spec.slice(0, at) : spec
    const range = at > 0 ? spec.slice(at + 1) : undefined
    if (name.startsWith('@mortar/')) continue
    if (range === undefined) {
      problems.push(`${name} has no version range`)
      continue
    }
    const accepted = peers.get(name)
    if (accepted !== undefined && !accepted.has(range)) {
      problems.push(`${name}@${range} is not the peer range (${[...accepted].join(' or ')})`)
    }
  }
  return problems
}

describe('README install lines', () => {
  it('finds install lines to check', () => {
    expect(installLines().length).toBeGreaterThan(3)
  })

  it('pin every dependency to the range the packages accept', () => {
    const peers = peerRanges()
    const problems = installLines().flatMap(({ file, line }) =>
      problemsOf(line, peers).map((problem) => `${file.slice(root.length + 1)}: ${problem}`),
    )
    expect(problems).toEqual([])
  })

  it('would catch a bare name and a range the peers refuse', () => {
    const peers = new Map([['kysely', new Set(['^0.29.0'])]])
    expect(problemsOf('npm install @mortar/core kysely', peers)).toEqual([
      'kysely has no version range',
    ])
    expect(problemsOf("npm install 'kysely@^0.28.0' # or 'kysely@^0.29.0'", peers)).toEqual([
      'kysely@^0.28.0 is not the peer range (^0.29.0)',
    ])
  })
})
