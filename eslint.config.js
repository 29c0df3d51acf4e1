// ESLint flat config: type-aware promise rules (a floating promise is a real concurrency bug in a
// model whose sleeping functions are async), exhaustive switches, type-only imports.
import js from "@eslint/js";
import globals from "globals";
import vitest from "@vitest/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/.turbo/**", "**/coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["scripts/**/*.mjs", "**/bench/**/*.mjs", "*.js", "*.ts"],
    languageOptions: { globals: globals.node },
  },
  {
    files: ["apps/*/bin/*.cjs"],
    languageOptions: { globals: globals.node, sourceType: "commonjs" },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    files: [
      "packages/*/src/**/*.ts",
      "packages/*/test/**/*.ts",
      "packages/*/examples/**/*.ts",
      "packages/*/bench/**/*.ts",
      "apps/*/src/**/*.ts",
      "apps/*/test/**/*.ts",
    ],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/consistent-type-exports": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      curly: ["error", "all"],
    },
  },
  {
    files: ["packages/*/src/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["node:*"],
              message: "The model must not touch the host: no node: built-ins in packages/*/src.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.test.ts"],
    plugins: { vitest },
    rules: { "vitest/no-focused-tests": "error" },
  },
);
