import { readFileSync } from "node:fs"
import { Schema } from "effect"
import { windowValidationRules } from "./MaintenanceWindow.ts"
import { templateRules, templateSpecRules } from "./PodTemplate.ts"
import {
  BatchWorkloadSpec,
  BatchWorkloadStatus,
  group,
  kind,
  plural,
  printerColumns,
  shortNames,
  singular,
  specDefaults,
  specValidationRules,
  version
} from "./BatchWorkload.ts"

/** A JSON Schema / OpenAPI v3 object, as plain data. */
type JsonObject = { [key: string]: unknown }

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isUnboundedInteger = (value: unknown) =>
  value === Number.MAX_SAFE_INTEGER || value === Number.MIN_SAFE_INTEGER

/** The variants of an `anyOf` that is exactly one integer and one string schema (in either order). */
const intOrStringVariants = (schema: JsonObject) => {
  const variants = schema["anyOf"]
  if (!Array.isArray(variants) || variants.length !== 2 || !variants.every(isObject)) return undefined
  const string = variants.find((variant) => variant["type"] === "string")
  const integer = variants.find((variant) => variant["type"] === "integer")
  return string !== undefined && integer !== undefined ? { string } : undefined
}

/**
 * An int-or-string union in the only form a structural schema allows, the one
 * controller-gen writes for resource.Quantity. Types may not appear inside
 * `anyOf` beyond the bare pair, so the string variant's pattern moves up next
 * to it; JSON Schema applies `pattern` to strings only, so integers still pass.
 */
const intOrString = (schema: JsonObject, string: JsonObject): JsonObject => {
  const { anyOf: _variants, ...rest } = schema
  const pattern = string["pattern"]
  return {
    ...rest,
    anyOf: [{ type: "integer" }, { type: "string" }],
    ...(typeof pattern === "string" ? { pattern } : {}),
    "x-kubernetes-int-or-string": true
  }
}

/**
 * Turns Effect's draft 2020-12 JSON Schema into the structural OpenAPI v3
 * subset the API server accepts for CRDs: no `uniqueItems` (a list-type set
 * instead), no `additionalProperties: true` next to `properties`, int-or-string
 * unions as `x-kubernetes-int-or-string` (keeping the string's pattern), and no
 * placeholder integer bounds.
 */
const toStructural = (schema: unknown): unknown => {
  if (Array.isArray(schema)) return schema.map(toStructural)
  if (!isObject(schema)) return schema
  const union = intOrStringVariants(schema)
  if (union !== undefined) return intOrString(schema, union.string)
  const result: JsonObject = {}
  for (const [key, value] of Object.entries(schema)) {
    if (key === "additionalProperties" && value === true) continue
    if ((key === "minimum" || key === "maximum") && isUnboundedInteger(value)) continue
    if (key === "uniqueItems") {
      if (value === true) result["x-kubernetes-list-type"] = "set"
      continue
    }
    result[key] = key === "properties" && isObject(value)
      ? Object.fromEntries(Object.entries(value).map(([name, property]) => [name, toStructural(property)]))
      : toStructural(value)
  }
  return result
}

const openApiSchema = (schema: Schema.Top): JsonObject => {
  const document = Schema.toJsonSchemaDocument(Schema.toEncoded(schema))
  const structural = toStructural(document.schema)
  if (!isObject(structural)) throw new Error("a workload schema must compile to a JSON object schema")
  return structural
}

/** The OpenAPI schema of spec.template, generated from the API server's own by scripts/pod-template-schema.ts. */
const podTemplateSchema = (): JsonObject => {
  const generated: unknown = JSON.parse(readFileSync(new URL("./podTemplateSchema.json", import.meta.url), "utf8"))
  if (!isObject(generated)) throw new Error("src/api/podTemplateSchema.json must hold an object schema")
  return {
    ...generated,
    description: "A pod template, as in a Job or DaemonSet, instead of image, command and the other simple pod fields.",
    required: ["spec"],
    "x-kubernetes-validations": templateRules
  }
}

const specSchema = (): JsonObject => {
  const spec = openApiSchema(BatchWorkloadSpec)
  const properties = isObject(spec["properties"]) ? spec["properties"] : {}
  for (const [field, value] of Object.entries(specDefaults)) {
    const property = properties[field]
    if (isObject(property)) property["default"] = value
  }
  const window = properties["window"]
  if (isObject(window)) window["x-kubernetes-validations"] = windowValidationRules
  properties["template"] = podTemplateSchema()
  return { ...spec, "x-kubernetes-validations": [...specValidationRules, ...templateSpecRules] }
}

/** The CustomResourceDefinition, generated from the same Schemas that decode the resource. */
export const customResourceDefinition = () => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    names: { kind, listKind: `${kind}List`, plural, singular, shortNames, categories: ["all"] },
    scope: "Namespaced",
    versions: [
      {
        name: version,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: printerColumns,
        schema: {
          openAPIV3Schema: {
            description: "Runs one pod per selected node, at most batchSize nodes at a time, with retries and a per-node timeout.",
            type: "object",
            required: ["spec"],
            properties: {
              apiVersion: { type: "string" },
              kind: { type: "string" },
              metadata: { type: "object" },
              spec: specSchema(),
              status: openApiSchema(BatchWorkloadStatus)
            }
          }
        }
      }
    ]
  }
})
