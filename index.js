'use strict'
// symbiote-auth: the native client (native.js, the loader `napi build` generates, finds the
// binary beside it or in this platform's package) and the error helpers (errors.js).
//
// Written by hand around the generated loader for one reason: when no binary loads, the
// loader throws a generic "Cannot find native binding" whose useful part sits deep in its
// `cause` chain. Here that becomes an AuthError with code E_NATIVE_BINDING that names the
// platform and the package to install.

const { AuthError, isAuthError, authErrorCode, userMessage, USER_MESSAGES } = require('./errors.js')

// The napi-rs platform suffix of this process, as the platform packages are named
// (npm/<suffix>/package.json): linux-x64-gnu, darwin-arm64, win32-x64-msvc, …
function platformSuffix() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const glibc = Boolean(process.report?.getReport?.()?.header?.glibcVersionRuntime)
    return `${platform}-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  return platform === 'win32' ? `${platform}-${arch}-msvc` : `${platform}-${arch}`
}

// The suffixes of package.json `napi.targets` (the packages a release publishes).
function shippedSuffixes() {
  const { targets } = require('./package.json').napi
  const archOf = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32' }
  return targets.map((triple) => {
    const [arch, , system, abi] = triple.split('-')
    const os = { linux: 'linux', darwin: 'darwin', windows: 'win32' }[system] ?? system
    return [os, archOf[arch] ?? arch, abi].filter(Boolean).join('-')
  })
}

function nativeBindingError(cause) {
  const { name, version } = require('./package.json')
  const suffix = platformSuffix()
  const runtime = process.versions.electron ? `Electron ${process.versions.electron}` : `Node ${process.versions.node}`
  const where = `${suffix}, ${runtime}`
  const pkg = `${name}-${suffix}`
  const shipped = shippedSuffixes()
  let advice
  if (!shipped.includes(suffix)) {
    advice = `${name} ships no binary for this platform (it ships ${shipped.join(', ')}); build one from source with \`npm run build\` in a clone`
  } else if (installed(pkg)) {
    advice = `${pkg} is installed but its binary did not load (the reasons are in this error's cause); reinstall it at version ${version}, and in a packaged Electron app unpack *.node from the asar archive`
  } else {
    advice = `install ${pkg}@${version} (npm installs it by itself from a published ${name}; a local or git install of ${name} needs it added, or a build with \`npm run build\`)`
  }
  return new AuthError('E_NATIVE_BINDING', `the native part of ${name} did not load on ${where}: ${advice}`, { cause })
}

function installed(pkg) {
  try {
    require.resolve(`${pkg}/package.json`)
    return true
  } catch {
    return false
  }
}

let native
try {
  native = require('./native.js')
} catch (cause) {
  throw nativeBindingError(cause)
}

exports.AuthClient = native.AuthClient
exports.McpAuthProvider = native.McpAuthProvider
exports.AuthErrorCode = native.AuthErrorCode
exports.AuthError = AuthError
exports.isAuthError = isAuthError
exports.authErrorCode = authErrorCode
exports.userMessage = userMessage
exports.USER_MESSAGES = USER_MESSAGES
