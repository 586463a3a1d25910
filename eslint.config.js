// Lint runs as part of `npm test`: strict TypeScript rules over every room, and the rooms
// themselves (which folder may import which; test/lint/rooms.test.ts keeps these rules honest).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { roomsRule } from './scripts/eslint-rooms.js';

const KOFFI_MESSAGE = 'Only driver/ffi may import koffi.';
const KOFFI_STATIC = { name: 'koffi', message: KOFFI_MESSAGE };
// no-restricted-imports sees static imports only; import('koffi') is caught here.
const KOFFI_DYNAMIC = { selector: "ImportExpression[source.value='koffi']", message: KOFFI_MESSAGE };
const COMPUTED_IMPORT = {
  selector: "ImportExpression[source.type!='Literal']",
  message:
    'Import project code with a string literal: a computed import() hides the dependency from tsc, lint and readers. Only the third-party plugin loader (core/plugin/loader.ts) imports a computed path.',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/fixtures/**', 'driver/windows/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { vigil: { rules: { rooms: roomsRule } } },
    rules: { 'vigil/rooms': 'error' },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-empty': ['error', { allowEmptyCatch: false }],
      'no-restricted-imports': ['error', { paths: [KOFFI_STATIC] }],
      'no-restricted-syntax': ['error', KOFFI_DYNAMIC, COMPUTED_IMPORT],
    },
  },
  {
    // Each block below replaces the options of the rules it names, so it repeats what still applies.
    files: ['driver/ffi/**/*.ts'],
    rules: { 'no-restricted-imports': 'off', 'no-restricted-syntax': ['error', COMPUTED_IMPORT] },
  },
  {
    // importPluginFile: a third-party plugin is a path or package named in the config.
    files: ['core/plugin/loader.ts'],
    rules: { 'no-restricted-syntax': ['error', KOFFI_DYNAMIC] },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly' } },
    rules: { 'no-restricted-syntax': ['error', KOFFI_DYNAMIC, COMPUTED_IMPORT] },
  },
);
