/** File-system helpers shared by every library and plugin that reads files named in config. */
export { listFiles, type FileFilter, type ListFilesOptions, type UnreadablePath } from './list-files.js';
// Which files the agent trusts is the core's rule (it checks its config file with it), offered
// through the SDK; re-exported here for the loaders of rule content.
export { fileTrustProblem, folderTrustProblem, STRICT_FILE_MODES_ENV } from '../../core/index.js';
