import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { crdPath, renderCrdYaml } from "../../scripts/crd-yaml.ts"
import { customResourceDefinition } from "../../src/api/crd.ts"

describe("generated CRD", () => {
  it("matches manifests/crd.yaml byte for byte (run `npm run manifests` after changing the API)", () => {
    assert.strictEqual(readFileSync(crdPath, "utf8"), renderCrdYaml())
  })

  it("is structural: every spec property has a type, and the ranges users rely on are enforced", () => {
    const version = customResourceDefinition().spec.versions[0]
    const schema = version?.schema.openAPIV3Schema.properties.spec
    const properties = schema?.["properties"] as Record<string, Record<string, unknown>>
    assert.deepStrictEqual(schema?.["required"], ["image"])
    assert.include(properties["replicas"], { type: "integer", minimum: 1, maximum: 1000 })
    assert.include(properties["batchSize"], { type: "integer", minimum: 1, maximum: 100, default: 1 })
    assert.include(properties["timeout"], { type: "string", default: "5m" })
    assert.isString(properties["timeout"]?.["pattern"])
    for (const [name, property] of Object.entries(properties)) {
      assert.isTrue("type" in property || "x-kubernetes-int-or-string" in property, name)
      assert.notProperty(property, "uniqueItems", name)
    }
    assert.deepStrictEqual(version?.subresources, { status: {} })
  })
})
