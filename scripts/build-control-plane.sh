#!/usr/bin/env bash
# Builds the control-plane binaries used by the integration tests and `npm run dev`
# (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok) and helm
# (for the chart's tests) from the Go wrapper modules under test/controlplane/go/.
#
# Binaries go into a cache outside the repo, keyed by the pinned versions plus a
# hash of the wrapper modules and of this script:
#   ${BWO_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/batch-workload-operator/controlplane}/<key>/bin/
# A binary that is already there is not rebuilt, so a second run takes well under a second.
# Other keys' directories that have not been used for 30 days are removed after a build.
# The last line on stdout is the bin directory (progress goes to stderr).
#
# Usage: scripts/build-control-plane.sh [--print-bin-dir]
#   --print-bin-dir  print the bin directory and exit, building nothing
# Environment:
#   BWO_CONTROLPLANE_CACHE  cache root (default above)
#   BWO_BUILD_PARALLELISM   go build -p (default: 2, or 1 with less than 6 GiB of memory)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mod_root="$repo_root/test/controlplane/go"

log() { printf '[build-control-plane] %s\n' "$*" >&2; }
die() { printf '[build-control-plane] ERROR: %s\n' "$*" >&2; exit 1; }

# --- versions, read from the committed wrapper modules ------------------------------------
mod_version() { # <go.mod> <module path>: the required version of that module
  awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$1"
}
k8s_version="$(mod_version "$mod_root/kubernetes/go.mod" k8s.io/kubernetes)"
etcd_version="$(mod_version "$mod_root/etcd/go.mod" go.etcd.io/etcd/server/v3)"
kwok_version="$(mod_version "$mod_root/kwok/go.mod" sigs.k8s.io/kwok)"
helm_version="$(mod_version "$mod_root/helm/go.mod" helm.sh/helm/v3)"
[[ -n "$k8s_version" && -n "$etcd_version" && -n "$kwok_version" && -n "$helm_version" ]] \
  || die "could not read the pinned versions from $mod_root/*/go.mod"

# Bump when the way the binaries are built changes (flags, stamping, list of binaries).
recipe=3
modules=(kubernetes etcd kwok helm)
inputs_hash="$( (for m in "${modules[@]}"; do cat "$mod_root/$m"/go.{mod,sum}; done; echo "recipe=$recipe") | sha256sum | cut -c1-12)"
key="k8s-${k8s_version}_etcd-${etcd_version}_kwok-${kwok_version}_helm-${helm_version}_${inputs_hash}"
cache_root="${BWO_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/batch-workload-operator/controlplane}"
bin_dir="$cache_root/$key/bin"

if [[ "${1:-}" == "--print-bin-dir" ]]; then
  echo "$bin_dir"
  exit 0
fi

binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm)
all_present() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin_dir/$b" ]] || return 1; done
}
if all_present; then
  touch "$cache_root/$key" 2>/dev/null || true
  log "up to date: $bin_dir"
  echo "$bin_dir"
  exit 0
fi

# --- Go toolchain -----------------------------------------------------------------------
# The newest `go` directive among the wrapper modules is the minimum Go version.
required_go="$(for m in "${modules[@]}"; do awk '$1 == "go" { print $2 }' "$mod_root/$m/go.mod"; done | sort -V | tail -1)"
version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" == "$2" ]]; }
go_version() { go env GOVERSION 2>/dev/null | sed 's/^go//'; }

if ! command -v go >/dev/null 2>&1; then
  for d in /usr/local/go/bin /usr/lib/go/bin "$HOME/go/bin" "$HOME/sdk/go/bin"; do
    if [[ -x "$d/go" ]]; then export PATH="$PATH:$d"; log "using Go from $d (not on PATH)"; break; fi
  done
fi
if ! command -v go >/dev/null 2>&1; then
  # Debian's golang-go is usually far too old for Kubernetes; only use it if it is new enough.
  candidate=""
  if command -v apt-cache >/dev/null 2>&1; then
    candidate="$(apt-cache policy golang-go 2>/dev/null | awk '/Candidate:/ { print $2 }' | sed -E 's/^[0-9]+://; s/[~+-].*$//')"
  fi
  if [[ -n "$candidate" && "$candidate" != "(none)" ]] && version_ge "$candidate" "$required_go" && [[ "$(id -u)" == 0 ]]; then
    log "Go is missing; installing golang-go $candidate with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y golang-go >&2
    export PATH="$PATH:/usr/lib/go/bin"
  else
    die "Go is not installed. Building the control plane needs Go >= $required_go (go directives in $mod_root/*/go.mod).
  Debian's golang-go candidate is '${candidate:-none}', which is not enough.
  Install Go >= $required_go from https://go.dev/dl/ (or your distribution) and put it on PATH."
  fi
fi

have_go="$(go_version)"
if ! version_ge "$have_go" "$required_go"; then
  # Go >= 1.21 can fetch a newer toolchain from the module proxy (golang.org/toolchain).
  if version_ge "$have_go" 1.21 && [[ "$(go env GOTOOLCHAIN)" != "local" || -n "${BWO_ALLOW_TOOLCHAIN_DOWNLOAD:-}" ]]; then
    log "Go $have_go < $required_go: letting the go command download go$required_go (GOTOOLCHAIN=go$required_go+auto)"
    export GOTOOLCHAIN="go$required_go+auto"
  else
    die "Go $have_go is too old: the wrapper modules need Go >= $required_go.
  Install a newer Go, or set BWO_ALLOW_TOOLCHAIN_DOWNLOAD=1 to let Go >= 1.21 download go$required_go from the module proxy."
  fi
fi

# --- build ------------------------------------------------------------------------------
mkdir -p "$bin_dir"
exec 9>"$cache_root/$key/.lock"
if ! flock -n 9; then
  log "another build of $key is running; waiting for it"
  flock 9
fi

if [[ -z "${BWO_BUILD_PARALLELISM:-}" ]]; then
  mem_kib="$(awk '/MemTotal/ { print $2 }' /proc/meminfo 2>/dev/null || echo 0)"
  if (( mem_kib > 0 && mem_kib < 6 * 1024 * 1024 )); then BWO_BUILD_PARALLELISM=1; else BWO_BUILD_PARALLELISM=2; fi
fi

# As upstream (hack/lib/golang.sh): static, trimmed, stripped, tagged.
export CGO_ENABLED=0
export GOFLAGS="-p=$BWO_BUILD_PARALLELISM -buildvcs=false -mod=readonly"
k8s_tags="selinux,notest,grpcnotrace"

# Version stamping, so /version and `kubectl version` report the pinned release.
k8s_info="$(cd "$mod_root/kubernetes" && go mod download -json k8s.io/kubernetes)"
k8s_info_file="$(sed -n 's/^\s*"Info": "\(.*\)",\?$/\1/p' <<<"$k8s_info")"
k8s_commit="$(sed -n 's/.*"Hash" *: *"\([0-9a-f]\{40\}\)".*/\1/p' "$k8s_info_file" 2>/dev/null | head -1 || true)"
k8s_date="$(cd "$mod_root/kubernetes" && go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)"
k8s_minor="$(cut -d. -f2 <<<"$k8s_version")"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=${k8s_date:-1970-01-01T00:00:00Z}"
  [[ -n "$k8s_commit" ]] && k8s_ldflags+=" -X $pkg.gitCommit=$k8s_commit"
done

build_one() { # <name> <module dir> <package> <tags> <ldflags>
  local name="$1" dir="$2" pkg="$3" tags="$4" ldflags="$5" start tmp
  if [[ -x "$bin_dir/$name" ]]; then
    log "$name: already built"
    return
  fi
  log "$name: building $pkg (go build -p=$BWO_BUILD_PARALLELISM)"
  start=$SECONDS
  tmp="$bin_dir/.$name.tmp.$$"
  (cd "$mod_root/$dir" && go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$tmp" "$pkg") \
    || { rm -f "$tmp"; die "building $name failed (see the go output above)"; }
  mv -f "$tmp" "$bin_dir/$name"
  log "$name: built in $((SECONDS - start))s"
}

etcd_info_file="$(cd "$mod_root/etcd" && go mod download -json go.etcd.io/etcd/server/v3 | sed -n 's/^\s*"Info": "\(.*\)",\?$/\1/p')"
etcd_commit="$(sed -n 's/.*"Hash" *: *"\([0-9a-f]\{40\}\)".*/\1/p' "$etcd_info_file" 2>/dev/null | head -1 || true)"
etcd_ldflags="-s -w${etcd_commit:+ -X go.etcd.io/etcd/api/v3/version.GitSHA=${etcd_commit:0:7}}"

# As helm's Makefile: the version, and the Kubernetes version `helm template` and `helm lint`
# assume by default (client-go's minor, major 1).
helm_info_file="$(cd "$mod_root/helm" && go mod download -json helm.sh/helm/v3 | sed -n 's/^\s*"Info": "\(.*\)",\?$/\1/p')"
helm_commit="$(sed -n 's/.*"Hash" *: *"\([0-9a-f]\{40\}\)".*/\1/p' "$helm_info_file" 2>/dev/null | head -1 || true)"
helm_k8s_minor="$(cd "$mod_root/helm" && go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)"
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
[[ -n "$helm_commit" ]] && helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitCommit=$helm_commit"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$helm_k8s_minor"
done

total_start=$SECONDS
log "Go $(go_version); building into $bin_dir (measured on 2 cores: ~10 min cold, helm ~2 min of it; ~35 s with a warm Go build cache)"
build_one kube-apiserver kubernetes k8s.io/kubernetes/cmd/kube-apiserver "$k8s_tags" "$k8s_ldflags"
build_one kube-controller-manager kubernetes k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_tags" "$k8s_ldflags"
build_one kube-scheduler kubernetes k8s.io/kubernetes/cmd/kube-scheduler "$k8s_tags" "$k8s_ldflags"
build_one kubectl kubernetes k8s.io/kubernetes/cmd/kubectl "$k8s_tags" "$k8s_ldflags"
build_one etcd etcd go.etcd.io/etcd/server/v3 "" "$etcd_ldflags"
build_one kwok kwok sigs.k8s.io/kwok/cmd/kwok "" "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v}"
build_one helm helm helm.sh/helm/v3/cmd/helm "" "$helm_ldflags"

cat >"$bin_dir/../versions.txt" <<EOF
kubernetes $k8s_version ${k8s_commit:-}
etcd $etcd_version
kwok $kwok_version
helm $helm_version ${helm_commit:-}
go $(go_version)
EOF
all_present || die "some binaries are missing from $bin_dir"
touch "$cache_root/$key"
find "$cache_root" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -mtime +30 -exec rm -rf {} + 2>/dev/null || true
log "done in $((SECONDS - total_start))s: $bin_dir"
echo "$bin_dir"
