export { ERROR_CODES, type ErrorCode } from './codes.js';
export { VigilError, isVigilError, errorKind, describeError } from './vigil-error.js';
