#!/usr/bin/env bash
# `cargo test`, then the Rust tests that need a real Secret Service (ignored by default):
# run where one answers, required where SYMBIOTE_AUTH_REQUIRE_KEYRING=1 (CI), and reported
# as skipped otherwise. Needs the debug addon (npm run build:debug) for the probe.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test

probe='new (require("./index.js").AuthClient)({ baseUrl: "https://unused.example", storage: "keyring",
  keyringService: "symbiote-auth-probe", storageDir: require("node:os").tmpdir() })
  .checkStorage().then(() => process.exit(0), () => process.exit(1))'
if [ "${SYMBIOTE_AUTH_REQUIRE_KEYRING:-}" = 1 ] || node -e "$probe" 2>/dev/null; then
  echo "--- cargo test: the Secret Service tests"
  cargo test --lib -- --ignored secret_service
else
  echo "SKIPPED: the Rust Secret Service tests (cargo test -- --ignored secret_service): no Secret Service answers; run under dbus-run-session with an unlocked gnome-keyring, as .ci/run does"
fi
