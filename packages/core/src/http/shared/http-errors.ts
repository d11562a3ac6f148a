export { PayloadTooLargeError, UnsupportedMediaTypeError } from '../../errors/index.js'

/** The message of every malformed-JSON 400, whichever framework parsed the body. */
export const MALFORMED_JSON_MESSAGE =
  'The request body is not valid JSON; send a well-formed JSON document.'
