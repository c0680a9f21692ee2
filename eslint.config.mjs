// Lint: the recommended presets of ESLint and typescript-eslint, with few rules of our own.
import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/', 'docs/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  // The explorer's script runs in the browser, as a classic script.
  { files: ['src/explorer/assets/*.js'], languageOptions: { globals: globals.browser, sourceType: 'script' } },
)
