export { ERROR_CODES, type ErrorCode } from './codes.js';
export { defineErrorCodes, errorCodeMeaning, type ErrorCodeTable, type VigilErrorCode } from './define.js';
export { VigilError, isVigilError, errorKind, describeError } from './vigil-error.js';
