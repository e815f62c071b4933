#!/usr/bin/env bash
# Regenerates the TypeScript wire code from schemas/crossbook.fbs (plain accessor API: no --gen-object-api,
# whose object classes allocate per message). Usage: schemas/generate.sh [OUT_DIR] (default schemas/generated).
#
# flatc 2.0.x writes extensionless relative imports ('./foo'); our ESM + NodeNext setup (tsc and tsx) needs
# explicit '.ts' extensions, so they are added with sed. Output is deterministic: the staleness test
# (test/schemas.test.ts) regenerates into a temp dir and compares byte for byte with the committed files.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/generated}"
schema="$here/crossbook.fbs"

if ! command -v flatc >/dev/null 2>&1; then
  echo "generate.sh: flatc not found (Debian package flatbuffers-compiler, version 2.0.x)" >&2
  exit 2
fi
version="$(flatc --version)"
case "$version" in
  "flatc version 2.0."*) ;;
  *) echo "generate.sh: need flatc 2.0.x to match the flatbuffers@2.0.7 runtime, found: $version" >&2; exit 2 ;;
esac

rm -rf "$out"
mkdir -p "$out"
flatc --ts -o "$out" "$schema"

# Add '.ts' to every relative import/export specifier; files in sorted order so the run is reproducible.
find "$out" -type f -name '*.ts' -print0 | sort -z | xargs -0 sed -i -E "s#(from '\.{1,2}/[^']*)'#\1.ts'#"

# flatc 2.0.x writes an int64 field's default as BigInt('0'): a string parsed on every add and every read of such a
# field (about a fifth of an event's encoding time in the gateway). The literal is the same value.
find "$out" -type f -name '*.ts' -print0 | sort -z | xargs -0 sed -i -E "s#BigInt\('(-?[0-9]+)'\)#\1n#g"

# flatc 2.0.8 leaves types that no other type references (EventEnvelope, OrderType, Channel) out of the barrel
# file; append them so every generated type is importable from one place.
barrel="$out/crossbook_generated.ts"
for file in $(cd "$out" && find crossbook -type f -name '*.ts' | LC_ALL=C sort); do
  if ! grep -q "'./$file'" "$barrel"; then
    name="$(sed -n -E 's/^export (class|enum) ([A-Za-z0-9_]+).*/\2/p' "$out/$file" | head -n 1)"
    echo "export { $name } from './$file';" >> "$barrel"
  fi
done
