// Lint runs as part of `npm test`: strict TypeScript rules over every room.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/fixtures/**', 'driver/windows/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-empty': ['error', { allowEmptyCatch: false }],
      'no-restricted-imports': ['error', { paths: [{ name: 'koffi', message: 'Only driver/ffi may import koffi.' }] }],
      // no-restricted-imports sees static imports only; import('koffi') is caught here.
      'no-restricted-syntax': ['error', { selector: "ImportExpression[source.value='koffi']", message: 'Only driver/ffi may import koffi.' }],
    },
  },
  {
    // A plugin sees the core only through its public SDK (DESIGN.md §2). This block replaces the
    // rule options for plugins, so the koffi path is repeated.
    files: ['plugins/**/*.ts'],
      rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'koffi', message: 'Only driver/ffi may import koffi.' }],
          patterns: [
            {
              group: ['**/core/*/**', '**/core/*.js', '!**/core/index.js'],
              message: 'Plugins import the core only through its public SDK (core/index.js).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['driver/ffi/**/*.ts'],
    rules: { 'no-restricted-imports': 'off', 'no-restricted-syntax': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly' } },
  },
);
