/** The WidError an action throws (or a promise rejects with), failing the test if there is none. */
import {expect} from 'vitest'
import {WidError} from '../../src/lib/errors.js'

export function refusal(action: () => unknown): WidError {
  let thrown: unknown
  try {
    action()
  } catch (error) {
    thrown = error
  }
  expect(thrown, 'expected a WidError').toBeInstanceOf(WidError)
  return thrown as WidError
}

export async function rejection(promise: Promise<unknown>): Promise<WidError> {
  let thrown: unknown
  try {
    await promise
  } catch (error) {
    thrown = error
  }
  expect(thrown, 'expected a WidError').toBeInstanceOf(WidError)
  return thrown as WidError
}
