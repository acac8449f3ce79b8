import { Schema } from "effect"

/**
 * spec.template, a core/v1 PodTemplateSpec. The API server checks it against
 * the real pod schema (src/api/podTemplateSchema.json, embedded in the CRD),
 * so the decoder takes the pod spec as an opaque object; the pod builder reads
 * the few fields it needs from it with type guards.
 */
export const PodTemplateSpec = Schema.Struct({
  metadata: Schema.optionalKey(Schema.Struct({
    labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
    annotations: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
  })),
  spec: Schema.Record(Schema.String, Schema.Unknown)
})
export type PodTemplateSpec = typeof PodTemplateSpec.Type

/** The pod fields a BatchWorkload has besides `template`; a workload uses either these or the template. */
export const simplePodFields = [
  "image",
  "command",
  "args",
  "env",
  "resources",
  "imagePullPolicy",
  "podLabels",
  "podAnnotations",
  "tolerations"
] as const

/** What the operator sets on every pod, refused in the template at admission so nobody expects theirs to be used. */
const ownedPodFields = [
  { field: "nodeName", why: "the operator binds one pod to each selected node; choose nodes with spec.nodeNames or spec.nodeSelector" },
  { field: "nodeSelector", why: "choose nodes with spec.nodeSelector; the operator binds each pod to its node" },
  { field: "restartPolicy", why: "it follows spec.mode (LongRunning: Always, RunToCompletion: Never)" }
] as const

const operatorPrefix = "batch.example.com/"

/** CEL rules on the spec object: the simple fields or the template, never both, and an image when there is no template. */
export const templateSpecRules = [
  {
    rule: "has(self.template) || has(self.image)",
    message: "image is required (or a pod template in template)",
    fieldPath: ".image"
  },
  ...simplePodFields.map((field) => ({
    rule: `!has(self.template) || !has(self.${field})`,
    message: `${field} cannot be combined with template: set it in the template instead`,
    fieldPath: `.${field}`
  }))
]

/** CEL rules on the template object: the fields the operator owns. */
export const templateRules = [
  ...ownedPodFields.map(({ field, why }) => ({
    rule: `!has(self.spec) || !has(self.spec.${field})`,
    message: `spec.template.spec.${field} is set by the operator: ${why}`,
    fieldPath: `.spec.${field}`
  })),
  ...(["labels", "annotations"] as const).map((part) => ({
    rule: `!has(self.metadata) || !has(self.metadata.${part}) || self.metadata.${part}.all(key, !key.startsWith('${operatorPrefix}'))`,
    message: `${part} under ${operatorPrefix} are the operator's own`,
    fieldPath: `.metadata.${part}`
  }))
]
