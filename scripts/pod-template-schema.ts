// `npm run pod-template-schema`: regenerates src/api/podTemplateSchema.json, the OpenAPI schema
// of spec.template that src/api/crd.ts embeds in the CRD.
//
// It reads the API server's own schema of core/v1 (GET /openapi/v3/api/v1) from a test control
// plane it starts (test/controlplane/, the cached binaries), or from a file saved earlier:
//   npm run pod-template-schema                      # starts a control plane, about 15 s
//   npm run pod-template-schema -- --from v1.json    # kubectl get --raw /openapi/v3/api/v1 > v1.json
// and turns io.k8s.api.core.v1.PodTemplateSpec into the structural schema a CRD accepts: every
// $ref inlined, IntOrString and Quantity as x-kubernetes-int-or-string, the list and patch
// extensions, defaults and formats CRDs reject or would apply differently dropped, descriptions
// cut to their first sentence (the full ones would make the CRD about 2 MB). Then run
// `npm run manifests`.
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { kubectl, startControlPlane } from "../test/controlplane/index.ts"

type Json = { [key: string]: unknown }

const outputPath = fileURLToPath(new URL("../src/api/podTemplateSchema.json", import.meta.url))
const refPrefix = "#/components/schemas/"
const rootName = "io.k8s.api.core.v1.PodTemplateSpec"
const maxDescription = 160

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

/** resource.Quantity's pattern, as controller-gen writes it and src/api/BatchWorkload.ts uses it. */
const quantityPattern = "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"

/** Types whose wire form is not one JSON type: a CRD can say so only with x-kubernetes-int-or-string. */
const special: Record<string, (description: string | undefined) => Json> = {
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": (description) => ({
    ...(description !== undefined ? { description } : {}),
    "x-kubernetes-int-or-string": true
  }),
  "io.k8s.apimachinery.pkg.api.resource.Quantity": (description) => ({
    ...(description !== undefined ? { description } : {}),
    anyOf: [{ type: "integer" }, { type: "string" }],
    pattern: quantityPattern,
    "x-kubernetes-int-or-string": true
  }),
  // The template's metadata is only what a pod template may carry: labels and annotations (name, namespace and owners are the operator's).
  "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": (description) => ({
    ...(description !== undefined ? { description } : {}),
    type: "object",
    properties: {
      labels: { description: "Labels for the pods.", type: "object", additionalProperties: { type: "string" } },
      annotations: { description: "Annotations for the pods.", type: "object", additionalProperties: { type: "string" } }
    }
  })
}

// Kept as they are; everything else (x-kubernetes-list-*, patch strategies, unions, defaults) is dropped:
// list-map keys must be required or defaulted in a CRD, and the pod's own defaulting applies when it is created.
const keptKeys = new Set(["type", "properties", "items", "additionalProperties", "required", "enum", "format", "description"])
const keptFormats = new Set(["int32", "int64", "double", "float", "byte", "date-time"])

const shortDescription = (text: unknown) => {
  if (typeof text !== "string") return undefined
  const firstSentence = text.split(/(?<=\.)\s/u)[0] ?? text
  const oneLine = firstSentence.replace(/\s+/gu, " ").trim()
  return oneLine.length > maxDescription ? `${oneLine.slice(0, maxDescription - 1)}…` : oneLine
}

const refName = (schema: Json): string | undefined => {
  const direct = schema["$ref"]
  if (typeof direct === "string") return direct.slice(refPrefix.length)
  const allOf = schema["allOf"]
  if (Array.isArray(allOf) && allOf.length === 1 && isObject(allOf[0]) && typeof allOf[0]["$ref"] === "string") {
    return allOf[0]["$ref"].slice(refPrefix.length)
  }
  return undefined
}

const convert = (schemas: Json, schema: Json, stack: ReadonlyArray<string>, outerDescription?: string): Json => {
  const name = refName(schema)
  const description = outerDescription ?? shortDescription(schema["description"])
  if (name !== undefined) {
    const make = special[name]
    if (make !== undefined) return make(description)
    // A type that contains itself cannot be inlined; none in PodSpec does today, this keeps the generator finite if one appears.
    if (stack.includes(name)) return { ...(description !== undefined ? { description } : {}), type: "object", "x-kubernetes-preserve-unknown-fields": true }
    const target = schemas[name]
    if (!isObject(target)) throw new Error(`unknown schema ${name}`)
    return convert(schemas, target, [...stack, name], description)
  }
  const result: Json = {}
  for (const [key, value] of Object.entries(schema)) {
    if (!keptKeys.has(key)) continue
    if (key === "description") continue
    if (key === "format" && !(typeof value === "string" && keptFormats.has(value))) continue
    if (key === "properties" && isObject(value)) {
      result[key] = Object.fromEntries(Object.entries(value).map(([field, property]) => [field, convert(schemas, property as Json, stack)]))
    } else if ((key === "items" || key === "additionalProperties") && isObject(value)) {
      result[key] = convert(schemas, value, stack)
    } else {
      result[key] = value
    }
  }
  return description !== undefined ? { description, ...result } : result
}

const readOpenApi = async (): Promise<string> => {
  const from = process.argv.indexOf("--from")
  const file = from >= 0 ? process.argv[from + 1] : undefined
  if (file !== undefined) return readFileSync(file, "utf8")
  const cp = await startControlPlane({ scheduler: false })
  try {
    const result = await kubectl(["get", "--raw", "/openapi/v3/api/v1"], { kubeconfig: cp.kubeconfigPath })
    if (result.code !== 0) throw new Error(`kubectl get --raw /openapi/v3/api/v1 failed: ${result.stderr}`)
    return result.stdout
  } finally {
    await cp.stop()
  }
}

const document: unknown = JSON.parse(await readOpenApi())
const schemas = isObject(document) && isObject(document["components"]) ? document["components"]["schemas"] : undefined
if (!isObject(schemas) || !isObject(schemas[rootName])) throw new Error(`the document has no ${rootName}`)
const converted = convert(schemas, { $ref: `${refPrefix}${rootName}` }, [])
writeFileSync(outputPath, `${JSON.stringify(converted, null, 1)}\n`)
console.log(`wrote ${outputPath} (${JSON.stringify(converted).length} bytes compact)`)
