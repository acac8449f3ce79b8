import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { parse } from "yaml"

const repoFile = (path: string): unknown => parse(readFileSync(new URL(`../../${path}`, import.meta.url), "utf8"))
const field = (document: unknown, key: string): unknown =>
  typeof document === "object" && document !== null ? Object.entries(document).find(([k]) => k === key)?.[1] : undefined

describe("Helm chart", () => {
  it("installs the version of the operator this repository builds (appVersion = package.json's version)", () => {
    assert.strictEqual(field(repoFile("charts/batch-workload-operator/Chart.yaml"), "appVersion"), field(repoFile("package.json"), "version"))
  })
})
