import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { chartCrdPath, chartGeneratedPath, renderChartCrd, renderChartGenerated } from "../../scripts/chart-yaml.ts"
import { crdPath, renderCrdYaml } from "../../scripts/crd-yaml.ts"
import { installPath, renderInstallYaml } from "../../scripts/install-yaml.ts"
import { BatchWorkloadSpec } from "../../src/api/BatchWorkload.ts"
import { customResourceDefinition } from "../../src/api/crd.ts"

describe("generated CRD", () => {
  it("matches manifests/crd.yaml byte for byte (run `npm run manifests` after changing the API)", () => {
    assert.strictEqual(readFileSync(crdPath, "utf8"), renderCrdYaml())
  })

  it("is the Helm chart's CRD template, and the chart says what manifests/ says (run `npm run manifests`)", () => {
    assert.strictEqual(readFileSync(chartCrdPath, "utf8"), renderChartCrd())
    assert.strictEqual(readFileSync(chartGeneratedPath, "utf8"), renderChartGenerated())
  })

  it("is in dist/install.yaml with everything else in manifests/ (run `npm run manifests`)", () => {
    assert.strictEqual(readFileSync(installPath, "utf8"), renderInstallYaml())
  })

  it("embeds the API server's pod template schema, in a form a CRD accepts and client-side apply can store", () => {
    const crd = customResourceDefinition()
    const spec = crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec
    const template = (spec?.["properties"] as Record<string, Record<string, unknown>>)["template"]
    const json = JSON.stringify(template)
    assert.include(json, '"hostPath"')
    assert.include(json, '"initContainers"')
    assert.notInclude(json, "x-kubernetes-list-map-keys", "list-map keys must be required or defaulted in a CRD")
    assert.notInclude(json, "$ref")
    // kubectl's client-side apply keeps the whole object in an annotation of at most 256 KiB.
    assert.isBelow(JSON.stringify(crd).length, 256 * 1024)
  })

  it("is structural: every spec property has a type, and the ranges users rely on are enforced", () => {
    const version = customResourceDefinition().spec.versions[0]
    const schema = version?.schema.openAPIV3Schema.properties.spec
    const properties = schema?.["properties"] as Record<string, Record<string, unknown>>
    // image is required only without a template, so a CEL rule says so instead of `required`.
    assert.notProperty(schema ?? {}, "required")
    assert.deepInclude(schema?.["x-kubernetes-validations"], {
      rule: "has(self.template) || has(self.image)",
      message: "image is required (or a pod template in template)",
      fieldPath: ".image"
    })
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

  it("validates resource quantities as controller-gen does for resource.Quantity: int or string, strings by pattern", () => {
    const spec = customResourceDefinition().spec.versions[0]?.schema.openAPIV3Schema.properties.spec
    const resources = (spec?.["properties"] as Record<string, { properties: Record<string, { additionalProperties: unknown }> }>)["resources"]
    for (const field of ["requests", "limits"]) {
      assert.deepStrictEqual(resources?.properties[field]?.additionalProperties, {
        anyOf: [{ type: "integer" }, { type: "string" }],
        pattern: quantityPattern,
        "x-kubernetes-int-or-string": true
      }, field)
    }
  })

  it("decodes exactly the quantities the API server admits", () => {
    const admitted = (text: string) => new RegExp(quantityPattern, "u").test(text)
    const decodes = (cpu: string | number) =>
      Result.isSuccess(Schema.decodeUnknownResult(BatchWorkloadSpec)({ image: "busybox", resources: { limits: { cpu } } }))
    for (const text of ["1", "100m", "64Mi", "1.5", ".5", "+1", "-1", "1e3", "1E-3", "1.5e+2", "2Gi", "0.5k", "lots", "", "1.5.5", "1 Gi", "1Gb", "Mi", "1ki", "e3", "1e"]) {
      assert.strictEqual(decodes(text), admitted(text), text)
    }
    assert.isTrue(decodes(2))
  })
})

/** Kubernetes' own resource.Quantity pattern, as controller-gen writes it into CRDs. */
const quantityPattern = String.raw`^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`
