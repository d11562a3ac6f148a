// Test support: a private database per test run on each engine (as @mortar/session tests do).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** One engine a test loops over: its base URL, or the one-line notice of why it is skipped. */
export interface TestEngine {
  readonly engine: 'sqlite' | 'postgres' | 'mysql'
  /** The engine's display name, for test titles. */
  readonly title: string
  readonly baseUrl?: string
  readonly skip?: string
}

/** A private database reachable by URL; `drop()` removes it. */
export interface PrivateDatabaseUrl {
  readonly url: string
  drop(): Promise<void>
}

/** SQLite always; PostgreSQL and MariaDB when their variable is set. */
export function testEngines(): TestEngine[] {
  const postgres = process.env.MORTAR_TEST_POSTGRES_URL
  const mysql = process.env.MORTAR_TEST_MYSQL_URL
  return [
    { engine: 'sqlite', title: 'SQLite' },
    postgres
      ? { engine: 'postgres', title: 'PostgreSQL', baseUrl: postgres }
      : { engine: 'postgres', title: 'PostgreSQL', skip: 'MORTAR_TEST_POSTGRES_URL is unset' },
    mysql
      ? { engine: 'mysql', title: 'MariaDB', baseUrl: mysql }
      : { engine: 'mysql', title: 'MariaDB', skip: 'MORTAR_TEST_MYSQL_URL is unset' },
  ]
}

/** A fresh SQLite file, PostgreSQL schema (through `search_path`) or MariaDB database. */
export async function privateDatabaseUrl(engine: TestEngine): Promise<PrivateDatabaseUrl> {
  const name = `mortar_test_${randomBytes(6).toString('hex')}`
  if (engine.engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'mortar-shop-'))
    return {
      url: `sqlite:${join(dir, 'app.db')}`,
      async drop() {
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  const baseUrl = engine.baseUrl
  if (baseUrl === undefined) throw new Error(engine.skip)
  if (engine.engine === 'postgres') {
    const { default: pg } = await import('pg')
    const run = async (statement: string) => {
      const client = new pg.Client({ connectionString: baseUrl })
      await client.connect()
      try {
        await client.query(statement)
      } finally {
        await client.end()
      }
    }
    await run(`create schema ${name}`)
    const url = new URL(baseUrl)
    url.searchParams.set('options', `-c search_path=${name}`)
    return { url: url.toString(), drop: () => run(`drop schema if exists ${name} cascade`) }
  }
  const mysql = await import('mysql2/promise')
  const run = async (statement: string) => {
    const client = await mysql.createConnection({ uri: baseUrl })
    try {
      await client.query(statement)
    } finally {
      await client.end()
    }
  }
  await run(`create database ${name}`)
  const url = new URL(baseUrl)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => run(`drop database if exists ${name}`) }
}
