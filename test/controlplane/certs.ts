// Certificates for the test control plane, made with the openssl CLI:
// a CA, the API server's serving cert (127.0.0.1, localhost), an admin client cert in group
// system:masters, and the service-account key pair.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

export interface Certs {
  readonly caCert: string
  readonly caKey: string
  readonly servingCert: string
  readonly servingKey: string
  readonly adminCert: string
  readonly adminKey: string
  readonly serviceAccountKey: string
  readonly serviceAccountPub: string
}

const openssl = (args: ReadonlyArray<string>, cwd: string): void => {
  try {
    execFileSync("openssl", [...args], { cwd, stdio: ["ignore", "pipe", "pipe"] })
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string; code?: string }
    if (err.code === "ENOENT") {
      throw new Error("openssl is not installed (needed to make the test control plane's certificates): apt-get install -y openssl")
    }
    throw new Error(`openssl ${args.join(" ")} failed: ${err.stderr?.toString() ?? err.message}`)
  }
}

const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

export const generateCerts = (dir: string): Certs => {
  fs.mkdirSync(dir, { recursive: true })
  const p = (f: string): string => path.join(dir, f)
  openssl(
    ["req", "-x509", ...ecKey, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", "/CN=batch-workload-operator-test-ca",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"],
    dir
  )
  const leaf = (name: string, subject: string, ext: string): void => {
    fs.writeFileSync(p(`${name}.ext`), ext)
    openssl(["req", "-new", ...ecKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject], dir)
    openssl(
      ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "3650",
        "-out", `${name}.crt`, "-extfile", `${name}.ext`],
      dir
    )
  }
  leaf(
    "serving",
    "/CN=kube-apiserver",
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" +
      "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n"
  )
  leaf(
    "admin",
    "/O=system:masters/CN=admin",
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
  )
  openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key"], dir)
  openssl(["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir)
  for (const f of fs.readdirSync(dir)) if (f.endsWith(".key")) fs.chmodSync(p(f), 0o600)
  return {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    servingCert: p("serving.crt"),
    servingKey: p("serving.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    serviceAccountKey: p("sa.key"),
    serviceAccountPub: p("sa.pub")
  }
}
