import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

// Every ```ts block of every README is type-checked against the packages' sources, as an app
// would paste it: a README that drifts from the API fails `npm test`. A block that uses names
// from its surroundings (an `app`, a `db`) gets them from a hidden comment right above it,
//   <!-- ts-context order-shipped
//   declare const app: import('@mortar/core').App
//   --- ./my-store.ts
//   export class MyStore {}
//   --- ./setup.ts = setup
//   -->
// whose first part is appended to the block (declarations hoist, so lines keep their numbers),
// whose `--- ./name.ts` parts are sibling files (its own text, or `= name`: the block of this
// README whose ts-context line names it), and whose first line may name the block.
const root = join(import.meta.dirname, '../../../..')

interface Block {
  /** README path relative to the repository root, and the block's first line (1-based). */
  readonly readme: string
  readonly line: number
  readonly code: string
  readonly name: string | undefined
  readonly context: string
  /** Sibling file name to its text, or to `{ block }`: another block's name. */
  readonly siblings: ReadonlyMap<string, string | { readonly block: string }>
}

function readmes(): string[] {
  const files = ['README.md']
  for (const group of ['packages', 'examples']) {
    for (const name of readdirSync(join(root, group))) {
      if (existsSync(join(root, group, name, 'README.md'))) files.push(`${group}/${name}/README.md`)
    }
  }
  return files
}

function blocksOf(readme: string, text: string): Block[] {
  const lines = text.split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] ?? '')) continue
    const end = lines.indexOf('```', i + 1)
    if (end < 0) throw new Error(`${readme}:${i + 1}: a code block is never closed`)
    let context = ''
    let name: string | undefined
    const siblings = new Map<string, string | { readonly block: string }>()
    if (lines[i - 1] === '-->') {
      let start = i - 2
      while (start >= 0 && !(lines[start] ?? '').startsWith('<!-- ts-context')) start--
      if (start < 0) throw new Error(`${readme}:${i}: '-->' closes no <!-- ts-context`)
      name = /^<!-- ts-context ([\w-]+)$/.exec(lines[start] ?? '')?.[1]
      let target: string | undefined
      let part: string[] = []
      const flush = () => {
        if (target === undefined) context = part.join('\n')
        else if (!siblings.has(target)) siblings.set(target, part.join('\n'))
      }
      for (const line of lines.slice(start + 1, i - 1)) {
        const sibling = /^--- (\.\/[\w-]+\.ts)(?: = ([\w-]+))?$/.exec(line)
        if (!sibling?.[1]) {
          part.push(line)
          continue
        }
        flush()
        target = sibling[1]
        part = []
        if (sibling[2] !== undefined) siblings.set(target, { block: sibling[2] })
      }
      flush()
    }
    blocks.push({
      readme,
      line: i + 2,
      name,
      code: lines.slice(i + 1, end).join('\n'),
      context,
      siblings,
    })
    i = end
  }
  return blocks
}

function allBlocks(): Block[] {
  return readmes().flatMap((readme) => blocksOf(readme, readFileSync(join(root, readme), 'utf8')))
}

const base = ts.getParsedCommandLineOfConfigFile(
  join(root, 'tsconfig.json'),
  {},
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
)
if (!base) throw new Error('tsconfig.json does not parse')
const options: ts.CompilerOptions = { ...base.options, noEmit: true, noUnusedLocals: false }

// Parsed files are shared by every program, so the packages' sources are read once.
const cache = new Map<string, ts.SourceFile>()
const host = ts.createCompilerHost(options)
const readFromDisk = host.getSourceFile.bind(host)

/** A file of a program: a block (its code, then its context), or a sibling from a context. */
interface UnitFile {
  readonly text: string
  /** The block whose diagnostics these are; none for a named block lent to another unit. */
  readonly block: Block | undefined
  readonly isBlock: boolean
}

type Unit = Map<string, UnitFile>

function folderOf(readme: string): string {
  const folder = readme.replace(/\/?README\.md$/, '').replaceAll('/', '-')
  return join(root, '.readme-code', folder === '' ? 'root' : folder)
}

function blockText(block: Block): string {
  return `${block.code}\n${block.context}\nexport {}\n`
}

function named(block: Block, name: string, all: readonly Block[]): Block {
  const found = all.find((other) => other.readme === block.readme && other.name === name)
  if (!found) throw new Error(`${block.readme}:${block.line}: no block is named ${name}`)
  return found
}

/** Where a block is compiled: a named block under its name, so siblings `= name` are it. */
function fileOf(block: Block): string {
  return join(folderOf(block.readme), `${block.name ?? `line-${block.line}`}.ts`)
}

function add(unit: Unit, name: string, file: UnitFile): void {
  const there = unit.get(name)
  if (there !== undefined && there.text !== file.text) {
    throw new Error(`${name} is given two different texts: name one of them otherwise`)
  }
  if (there === undefined || (file.block !== undefined && there.block === undefined)) {
    unit.set(name, file)
  }
}

/**
 * The blocks of a README that merge declarations into a module (a Principal, events: theirs, a
 * sibling's or a named block's they use) make one program, as one app does; every other block
 * goes into one shared program. So merges never meet another README's, and programs are few.
 */
function unitsOf(blocks: readonly Block[]): Unit[] {
  const units = new Map<string, Unit>()
  for (const block of blocks) {
    const siblings = [...block.siblings].map(([sibling, text]) => {
      const path = resolve(folderOf(block.readme), sibling)
      if (typeof text === 'string') return { path, file: { text, block, isBlock: false } }
      const lent = named(block, text.block, blocks)
      if (path !== fileOf(lent))
        throw new Error(`${block.readme}:${block.line}: name ${sibling} ./${text.block}.ts`)
      return { path, file: { text: blockText(lent), block: undefined, isBlock: true } }
    })
    const texts = [block.code, block.context, ...siblings.map(({ file }) => file.text)]
    const key = texts.some((text) => /declare (module|global)/.test(text)) ? block.readme : ''
    let unit = units.get(key)
    if (!unit) {
      unit = new Map()
      units.set(key, unit)
    }
    add(unit, fileOf(block), { text: blockText(block), block, isBlock: true })
    for (const { path, file } of siblings) add(unit, path, file)
  }
  return [...units.values()]
}

function check(units: readonly Unit[]): string[] {
  const problems: string[] = []
  for (const unit of units) {
    const unitHost: ts.CompilerHost = {
      ...host,
      fileExists: (name) => unit.has(resolve(name)) || host.fileExists(name),
      readFile: (name) => unit.get(resolve(name))?.text ?? host.readFile(name),
      // The blocks' folders exist only here; resolution looks for a folder before its files.
      directoryExists: (name) =>
        name.includes('.readme-code') || (host.directoryExists?.(name) ?? true),
      getSourceFile(name, language) {
        const own = unit.get(resolve(name))
        if (own !== undefined) return ts.createSourceFile(name, own.text, language, true)
        let file = cache.get(name)
        if (!file) {
          file = readFromDisk(name, language)
          if (file) cache.set(name, file)
        }
        return file
      },
    }
    const program = ts.createProgram([...unit.keys()], options, unitHost)
    for (const [name, { block, isBlock }] of unit) {
      if (block === undefined) continue
      const file = program.getSourceFile(name)
      if (!file) throw new Error(`${name} was not compiled`)
      const diagnostics = [
        ...program.getSyntacticDiagnostics(file),
        ...program.getSemanticDiagnostics(file),
      ]
      for (const diagnostic of diagnostics) {
        const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
        const { line } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
        const where =
          isBlock && line < block.code.split('\n').length
            ? `${block.readme}:${block.line + line}`
            : `${block.readme}:${block.line} (its ts-context${isBlock ? '' : ` ${basename(name)}`})`
        problems.push(`${where}: ${message}`)
      }
    }
  }
  return problems
}

describe('README code', () => {
  it('finds the blocks of every package README', () => {
    const found = new Set(allBlocks().map((block) => block.readme))
    for (const name of readdirSync(join(root, 'packages'))) {
      expect(found).toContain(`packages/${name}/README.md`)
    }
  })

  // About 10 s of CPU (a handful of programs over the packages' sources); more on a loaded machine.
  it('type-checks every ts block against the packages', { timeout: 180_000 }, () => {
    expect(check(unitsOf(allBlocks()))).toEqual([])
  })

  it('would catch a block that uses an API that does not exist', () => {
    const blocks = blocksOf(
      'README.md',
      [
        '<!-- ts-context',
        "declare const app: import('@mortar/core').App",
        '--- ./sink.ts',
        'export const sink = 1',
        '-->',
        '```ts',
        "import { sink } from './sink.js'",
        'const n: string = sink',
        'await app.launch()',
        '```',
      ].join('\n'),
    )
    expect(check(unitsOf(blocks))).toEqual([
      "README.md:8: Type 'number' is not assignable to type 'string'.",
      "README.md:9: Property 'launch' does not exist on type 'App<undefined>'.",
    ])
  })
})
