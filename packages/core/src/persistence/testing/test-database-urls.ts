import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DatabaseEngine } from '../database/index.js'

/** One engine to loop over in a test: its base URL, or why it is skipped. */
export interface EngineUnderTest {
  readonly engine: DatabaseEngine
  /** For server engines, the URL from the environment. */
  readonly baseUrl?: string
  /** A one-line notice naming the unset variable. */
  readonly skipReason?: string
}

/** A private database reachable by URL, dropped by `drop()`. */
export interface PrivateDatabaseUrl {
  readonly url: string
  drop(): Promise<void>
}

const VARIABLES = { postgres: 'MORTAR_TEST_POSTGRES_URL', mysql: 'MORTAR_TEST_MYSQL_URL' } as const

/** SQLite always; PostgreSQL and MariaDB when their variable is set. */
export function enginesUnderTest(): EngineUnderTest[] {
  const engines: EngineUnderTest[] = [{ engine: 'sqlite' }]
  for (const engine of ['postgres', 'mysql'] as const) {
    const variable = VARIABLES[engine]
    const baseUrl = process.env[variable]
    engines.push(
      baseUrl
        ? { engine, baseUrl }
        : { engine, skipReason: `${variable} is unset: ${engine} tests skipped` },
    )
  }
  return engines
}

/**
 * A fresh SQLite file, PostgreSQL schema (through `search_path`) or MariaDB database, so test
 * runs never see each other's tables.
 */
export async function privateDatabaseUrl(engine: EngineUnderTest): Promise<PrivateDatabaseUrl> {
  const name = `mortar_test_${randomBytes(6).toString('hex')}`
  if (engine.engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'mortar-test-'))
    return {
      url: `sqlite:${join(dir, 'nested', 'app.db')}`,
      async drop() {
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  const baseUrl = engine.baseUrl
  if (baseUrl === undefined) throw new Error(engine.skipReason)
  if (engine.engine === 'postgres') {
    const { default: pg } = await import('pg')
    const admin = new pg.Client({ connectionString: baseUrl })
    await admin.connect()
    await admin.query(`create schema ${name}`)
    await admin.end()
    const url = new URL(baseUrl)
    url.searchParams.set('options', `-c search_path=${name}`)
    return {
      url: url.toString(),
      async drop() {
        const client = new pg.Client({ connectionString: baseUrl })
        await client.connect()
        await client.query(`drop schema if exists ${name} cascade`)
        await client.end()
      },
    }
  }
  const mysql = await import('mysql2/promise')
  const admin = await mysql.createConnection({ uri: baseUrl })
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(baseUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const client = await mysql.createConnection({ uri: baseUrl })
      await client.query(`drop database if exists ${name}`)
      await client.end()
    },
  }
}
