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
    // Kernel history is data: a version boundary is an entry of a layer's era table
    // (defineEras in @dmasim/kernel), never an inline comparison in the model.
    files: ["packages/*/src/**/*.ts", "apps/*/src/**/*.ts"],
    ignores: ["packages/kernel/src/version.ts", "packages/kernel/src/era.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector:
            "CallExpression[callee.type='MemberExpression'][callee.property.name=/^(since|before|between)$/]",
          message:
            "No inline version checks: name the behaviour in the layer's era table (defineEras) and ask the entry.",
        },
        {
          selector: "CallExpression[callee.name='compareVersions']",
          message: "compareVersions is for era tables only: ask an era entry instead.",
        },
        {
          selector: "MemberExpression[object.property.name='version'][property.name='number']",
          message: "No inline version checks: ask an era entry instead of the version number.",
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
