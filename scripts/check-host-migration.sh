#!/usr/bin/env bash
# Applies the patch series docs/migration/symbiote-desktop/*.patch to the host
# (symbiote-labs/symbiote-desktop at c0530639) and checks what a maintainer would:
# the series applies, the host's two TypeScript projects report no error the unmodified host
# does not, electron-vite builds main and preload, the built preload run as a sandboxed
# window runs it exposes everything the unmodified one did plus symbioteAuth, and the
# migrated main-process code works (scripts/host-migration/runtime-check.js).
# One line per check, "N passed, M failed" last; exit 1 if any failed.
#
#   scripts/check-host-migration.sh HOST_GIT_DIR
#
# HOST_GIT_DIR is a clone of the host (its .git or a bare copy) that has c0530639. The work
# happens in CHECK_DIR (default: a new directory under /tmp), which is kept for inspection.
# The host is installed with its own Yarn 4 and --mode=skip-build (no Electron binary).
# Where this machine's registry cannot give what the host's lockfile names, the check edits
# the host's package.json for the check only, and says so on the "check-only edits" line.
set -uo pipefail

readonly BASE=c0530639
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
patches=("$repo"/docs/migration/symbiote-desktop/*.patch)

if [ $# -ne 1 ]; then
  echo "usage: scripts/check-host-migration.sh HOST_GIT_DIR" >&2
  exit 2
fi
host_git=$(cd "$1" && pwd)
[ -d "$host_git/.git" ] && host_git="$host_git/.git"
work=${CHECK_DIR:-$(mktemp -d /tmp/host-migration.XXXXXX)}
migrated="$work/migrated"
base="$work/base"
logs="$work/logs"
mkdir -p "$logs"

passed=0
failed=0
# step NAME COMMAND...: runs it, prints "ok NAME: <its last line>" or "FAIL NAME: <its last lines>".
step() {
  local name=$1 output
  shift
  if output=$("$@" 2>&1); then
    passed=$((passed + 1))
    echo "ok   $name${output:+: $(tail -n 1 <<<"$output")}"
  else
    failed=$((failed + 1))
    echo "FAIL $name: $(tail -n 3 <<<"$output" | tr '\n' ' ')"
    return 1
  fi
}
finish() {
  echo "$passed passed, $failed failed (work in $work)"
  [ "$failed" -eq 0 ]
  exit
}

# c0530639 as a commit of a fresh repository. A copy whose git objects lack a blob (the
# stored copy this was first checked with lacks one Yarn patch) gets a commit of the same
# tree without it; the series does not touch those files.
extract() {
  git init -q "$migrated"
  echo "$host_git/objects" >"$migrated/.git/objects/info/alternates"
  cd "$migrated" || return 1
  git config user.name check-host-migration
  git config user.email check@localhost
  git cat-file -e "$BASE^{commit}" || { echo "$host_git has no commit $BASE"; return 1; }
  local missing
  missing=$(git ls-tree -r "$BASE" | while read -r _mode _type sha file; do git cat-file -e "$sha" 2>/dev/null || echo "$file"; done)
  if [ -z "$missing" ]; then
    git checkout -q --detach "$BASE"
    echo "$BASE"
  else
    git ls-tree -r "$BASE" | grep -v -F -f <(printf '%s\n' "$missing") | git update-index --index-info
    git checkout -q --detach "$(git commit-tree "$(git write-tree)" -m "$BASE without the blobs this copy lacks")"
    git checkout -q -- .
    echo "$BASE without $(tr '\n' ' ' <<<"$missing")(absent from this copy)"
  fi
  git tag -f unmodified >/dev/null
  git worktree add -q --detach "$base" unmodified
}

apply_series() {
  cd "$migrated" && git am -q --3way "${patches[@]}" && echo "${#patches[@]} patches applied"
}

# This checkout's symbiote-auth as npm would ship it: the package and this platform's.
pack_symbiote_auth() {
  cd "$repo" || return 1
  local platform binary
  platform=$(node -e '
    const fs = require("fs")
    const glibc = process.platform === "linux" && Boolean(process.report.getReport().header.glibcVersionRuntime)
    for (const dir of fs.readdirSync("npm")) {
      const { os, cpu, libc } = JSON.parse(fs.readFileSync(`npm/${dir}/package.json`, "utf8"))
      if (os.includes(process.platform) && cpu.includes(process.arch) && (!libc || libc.includes(glibc ? "glibc" : "musl"))) console.log(dir)
    }')
  binary="symbiote-auth.$platform.node"
  [ -f "$binary" ] || npm run build --silent >"$logs/build-addon.log" 2>&1 || { echo "npm run build failed"; return 1; }
  mkdir -p "$work/pkg/$platform"
  cp -r "npm/$platform/." "$work/pkg/$platform/" && cp "$binary" "$work/pkg/$platform/"
  main_tgz=$(npm pack --silent --pack-destination "$work/pkg" | tail -n 1)
  platform_tgz=$(cd "$work/pkg/$platform" && npm pack --silent --pack-destination "$work/pkg" | tail -n 1)
  platform_name="symbiote-auth-$platform"
  echo "$main_tgz, $platform_tgz"
}

# For this check only: the host depends on the packed symbiote-auth; packages the registry
# here lacks are dropped, and URLs it cannot reach point at registry versions.
check_only_edits() {
  cd "$migrated" && HOST_MAIN_TGZ="$work/pkg/$main_tgz" HOST_PLATFORM_TGZ="$work/pkg/$platform_tgz" \
    HOST_PLATFORM_NAME="$platform_name" node -e '
    const fs = require("fs")
    const manifest = JSON.parse(fs.readFileSync("package.json", "utf8"))
    const edits = []
    manifest.dependencies["symbiote-auth"] = `file:${process.env.HOST_MAIN_TGZ}`
    manifest.dependencies[process.env.HOST_PLATFORM_NAME] = `file:${process.env.HOST_PLATFORM_TGZ}`
    edits.push("symbiote-auth from this checkout")
    // Not in the registry this machine reaches (404).
    const absent = ["@strongtz/win32-arm64-msvc", "notion-helper", "@eslint-react/eslint-plugin", "@kangfenmao/keyv-storage"]
    for (const name of absent) {
      for (const field of ["dependencies", "devDependencies"]) if (manifest[field]?.[name]) delete manifest[field][name]
    }
    edits.push(`dropped ${absent.join(" ")}`)
    // A git URL and a CDN tarball this machine cannot reach, from the registry instead.
    Object.assign(manifest.resolutions, { "@electron/node-gyp": "npm:node-gyp@10.2.0", xlsx: "npm:xlsx@0.18.5" })
    edits.push("@electron/node-gyp and xlsx from the registry")
    for (const [name, spec] of Object.entries(manifest.devDependencies)) {
      const patch = /#~\/(\.yarn\/patches\/[^:]+)$/.exec(spec)
      if (patch && !fs.existsSync(patch[1])) {
        manifest.devDependencies[name] = spec.replace(/^patch:.+?@npm%3A([^#]+)#.*$/, "$1")
        edits.push(`${name} without its Yarn patch (absent from this copy)`)
      }
    }
    fs.writeFileSync("package.json", `${JSON.stringify(manifest, null, 2)}\n`)
    console.log(edits.join("; "))'
}

install_host() {
  cd "$migrated" || return 1
  node .yarn/releases/yarn-*.cjs install --mode=skip-build >"$logs/yarn-install.log" 2>&1 || { tail -n 20 "$logs/yarn-install.log"; return 1; }
  # xlsx 0.20 (the CDN build the lockfile names) has a default export that office-text-extractor
  # imports; 0.18.5 from the registry does not: give it one, for the build only.
  printf '\nimport * as XLSX_NAMESPACE from "./xlsx.mjs";\nexport default XLSX_NAMESPACE;\n' >>node_modules/xlsx/xlsx.mjs
  ln -s "$migrated/node_modules" "$base/node_modules"
  echo "yarn install --mode=skip-build; xlsx given a default export for the build"
}

# typecheck PROJECT: the host's own command, before and after; errors compared without positions.
typecheck() {
  local project=$1 tree errors
  for tree in base migrated; do
    (cd "$work/$tree" && node_modules/.bin/tsc --noEmit -p "$project" --composite false) >"$logs/tsc-$project-$tree.log" 2>&1
    grep -E '^[^ ].*error TS[0-9]+' "$logs/tsc-$project-$tree.log" | sed -E 's/\([0-9]+,[0-9]+\)//' | sort >"$logs/tsc-$project-$tree.errors"
  done
  errors=$(comm -13 "$logs/tsc-$project-base.errors" "$logs/tsc-$project-migrated.errors")
  if [ -n "$errors" ]; then
    echo "$errors"
    echo "$(wc -l <<<"$errors") new errors"
    return 1
  fi
  echo "0 new errors (unmodified: $(wc -l <"$logs/tsc-$project-base.errors"), after the series: $(wc -l <"$logs/tsc-$project-migrated.errors"))"
}

# electron-vite build of both trees; main and preload must be there (the renderer needs the
# packages dropped above).
build() {
  local tree
  for tree in base migrated; do
    (cd "$work/$tree" && rm -rf out && node_modules/.bin/electron-vite build) >"$logs/build-$tree.log" 2>&1
    for bundle in main preload; do
      [ -f "$work/$tree/out/$bundle/index.js" ] || { echo "$tree: out/$bundle/index.js not built (see $logs/build-$tree.log)"; return 1; }
    done
  done
  echo "main and preload built, unmodified and migrated"
}

sandboxed_preload() {
  node "$repo/scripts/host-migration/sandboxed-preload.js" --compare "$base/out/preload/index.js" "$migrated/out/preload/index.js" \
    --removed api.auth --added symbioteAuth,symbioteApp
}

echo "symbiote-desktop $BASE + ${#patches[@]} patches, in $work"
step "extract $BASE" extract || finish
step "apply the series" apply_series || finish
step "pack symbiote-auth" pack_symbiote_auth || finish
# The packed names are needed below: read them again in this shell.
main_tgz=$(cd "$work/pkg" && ls symbiote-auth-[0-9]*.tgz)
platform_tgz=$(cd "$work/pkg" && ls symbiote-auth-*-*.tgz | grep -v "^$main_tgz$")
platform_name=$(sed -E 's/-[0-9][^-]*\.tgz$//' <<<"$platform_tgz")
step "check-only edits" check_only_edits || finish
step "install the host" install_host || finish
step "tsc -p tsconfig.node.json" typecheck tsconfig.node.json
step "tsc -p tsconfig.web.json" typecheck tsconfig.web.json
if step "electron-vite build" build; then
  step "sandboxed preload" sandboxed_preload
  echo "runtime check (SDK of the host, the reference API, MCP servers):"
  if node "$repo/scripts/host-migration/runtime-check.js" "$migrated" | sed 's/^/  /'; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
fi
finish
