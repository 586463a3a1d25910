/** File-system helpers shared by every library and plugin that reads files named in config. */
export { listFiles, type FileFilter, type ListFilesOptions, type UnreadablePath } from './list-files.js';
