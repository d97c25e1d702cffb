import * as effectEslint from "@effect/eslint-plugin"
import js from "@eslint/js"
import globals from "globals"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "test-artifacts/**", "docs/api/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...effectEslint.configs.dprint,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: "module" },
    rules: {
      // Effect's formatting conventions (dprint): 2 spaces, 120 columns, no semicolons, double quotes.
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/array-type": ["error", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
      "no-constant-condition": ["error", { checkLoops: false }]
    }
  },
  {
    files: ["src/**/*.ts"],
    rules: {
      "no-console": "error",
      // The barrels load every module of the package at start-up (@effect/platform's includes the Swagger and
      // Scalar UIs, @effect/platform-node's the cluster packages): ~30 MiB and ~0.5 s per process. Import by module.
      "no-restricted-imports": ["error", {
        paths: [
          { name: "@effect/platform", message: "import the module: @effect/platform/HttpServer etc." },
          { name: "@effect/platform-node", message: "import the module: @effect/platform-node/NodeContext etc." }
        ]
      }]
    }
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" }
  },
  {
    // The web UI's pages: plain browser modules served as they are (no build step).
    files: ["src/web/assets/**/*.js"],
    languageOptions: { globals: { ...globals.browser } }
  }
)
