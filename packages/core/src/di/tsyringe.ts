// tsyringe reads decorator metadata through the Reflect API: load the polyfill before it.
import 'reflect-metadata'

export { container, inject, injectable } from 'tsyringe'
