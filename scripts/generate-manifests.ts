import { writeFileSync } from "node:fs"
import { crdPath, renderCrdYaml } from "./crd-yaml.ts"

writeFileSync(crdPath, renderCrdYaml())
console.log(`wrote ${crdPath}`)
