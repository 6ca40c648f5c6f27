// Lint: ESLint's and typescript-eslint's recommended rules over the TypeScript of src/, test/, bench/, web/,
// examples/ and the build scripts. Formatting is Prettier's job (.prettierrc.json), not the linter's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeGlobals = {
  process: 'readonly',
  console: 'readonly',
  Buffer: 'readonly',
  URL: 'readonly',
  setTimeout: 'readonly',
  performance: 'readonly',
};

export default tseslint.config(
  // assembly/ is AssemblyScript (function decorators, its own types): asc checks it.
  { ignores: ['assembly/', 'lib/', 'dist/', 'build/', 'src/generated/', 'web/dist/', 'test-results/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks what is unused on purpose (a destructured-away field, an interface's argument).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  { files: ['scripts/**/*.mjs', 'test/**/*.mjs', '*.js'], languageOptions: { globals: nodeGlobals } },
  { files: ['test/packaging/app/**/*.js'], languageOptions: { globals: { window: 'readonly', self: 'readonly', document: 'readonly' } } },
);
