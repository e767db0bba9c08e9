#!/usr/bin/env bash
# Writes the signed update manifest of a RAUC bundle, next to it:
#   image/sign-manifest.sh VERSION BUNDLE NOTES
# BUNDLE streamp2p-<arch>-<anything>.raucb gives streamp2p-<arch>-VERSION.manifest in the same
# folder: a DER CMS (openssl cms -sign -nodetach -binary) of the JSON
#   {"version":"2","compatible":"streamp2p-amd64","bundle":"streamp2p-amd64-2.raucb",
#    "sha256":"<hex of the bundle>","size":<bytes>,"notes":"<NOTES>"}
# signed with the release key (the node checks it against /etc/rauc/keyring.pem before it
# downloads the bundle; "bundle" is relative to the manifest's URL).
# Environment: RELEASE_KEY, RELEASE_CERT (PEM; default image/out/keys/test-release.*.pem),
# COMPATIBLE (default streamp2p-<arch> from the bundle's name), MANIFEST (output file).
set -euo pipefail
die() { echo "image/sign-manifest.sh: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: image/sign-manifest.sh VERSION BUNDLE NOTES"
VERSION="$1" BUNDLE="$2" NOTES="$3"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
KEY="${RELEASE_KEY:-$REPO/image/out/keys/test-release.key.pem}"
CERT="${RELEASE_CERT:-$REPO/image/out/keys/test-release.cert.pem}"
[ -f "$BUNDLE" ] || die "no bundle $BUNDLE"
[ -f "$KEY" ] && [ -f "$CERT" ] || die "release key $KEY or certificate $CERT missing"
name="$(basename "$BUNDLE")"
arch="$(echo "$name" | sed -n 's/^streamp2p-\([a-z0-9]*\)-.*/\1/p')"
COMPATIBLE="${COMPATIBLE:-streamp2p-${arch:-amd64}}"
MANIFEST="${MANIFEST:-$(dirname "$BUNDLE")/streamp2p-${arch:-amd64}-$VERSION.manifest}"
body="$(python3 - "$VERSION" "$COMPATIBLE" "$name" "$(sha256sum "$BUNDLE" | cut -d' ' -f1)" \
  "$(stat -c %s "$BUNDLE")" "$NOTES" <<'PY'
import json, sys
v, c, b, h, n, notes = sys.argv[1:]
print(json.dumps({"version": v, "compatible": c, "bundle": b, "sha256": h, "size": int(n),
                  "notes": notes}, separators=(",", ":")))
PY
)"
printf '%s' "$body" | openssl cms -sign -nodetach -binary -outform DER \
  -signer "$CERT" -inkey "$KEY" -out "$MANIFEST.new" || die "openssl cms -sign failed"
mv "$MANIFEST.new" "$MANIFEST"
echo "image/sign-manifest.sh: $MANIFEST: $body" >&2
