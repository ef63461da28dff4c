#!/usr/bin/env bash
# Smoke test of the IPAM stack deployed on LocalStack (deploy.sh): checks LocalStack's health FIRST and
# fails loudly when it is unreachable (it never passes without having tested something), then drives the
# deployed API with the ipam CLI: create a pool, allocate an address, release it.
#
#   bash deploy/localstack/smoke.sh
#
# Environment: LOCALSTACK_ENDPOINT (default http://localhost:4566), IPAM_ENDPOINT (default: derived from
# the deploy outputs), IPAM_CLI (default: node bin/ipam.js), SMOKE_CLOUD / SMOKE_ZONE / SMOKE_POOL / SMOKE_RANGE.
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/localstack/common.sh

require_localstack

# --- where the API is -------------------------------------------------------------------------------
if [[ -z "${IPAM_ENDPOINT:-}" ]]; then
  [[ -f "$OUTPUTS_FILE" ]] || die "no deploy outputs at $OUTPUTS_FILE: run bash deploy/localstack/deploy.sh first"
  IPAM_ENDPOINT="$(STACK="$STACK_NAME" FILE="$OUTPUTS_FILE" EDGE="$LOCALSTACK_ENDPOINT" node -e '
    const out = JSON.parse(require("fs").readFileSync(process.env.FILE, "utf8"))[process.env.STACK] ?? {};
    if (!out.ApiId || !out.ApiUrl) { console.error("outputs lack ApiId/ApiUrl"); process.exit(1); }
    const stage = new URL(out.ApiUrl).pathname.split("/").filter(Boolean)[0];
    // LocalStack serves every REST API under the edge port at /_aws/execute-api/<api id>/<stage>.
    console.log(`${process.env.EDGE}/_aws/execute-api/${out.ApiId}/${stage}`);
  ')" || die "could not read the API endpoint from $OUTPUTS_FILE"
fi
echo "API endpoint: $IPAM_ENDPOINT"

# --- the CLI ----------------------------------------------------------------------------------------
if [[ -n "${IPAM_CLI:-}" ]]; then
  read -r -a CLI <<<"$IPAM_CLI"
elif [[ -f bin/ipam.js ]]; then
  CLI=(node bin/ipam.js)
else
  die "the ipam CLI (bin/ipam.js) is missing; set IPAM_CLI to a command that runs it"
fi
ipam() { "${CLI[@]}" --endpoint "$IPAM_ENDPOINT" "$@"; }

CLOUD="${SMOKE_CLOUD:-smoke}"
ZONE="${SMOKE_ZONE:-z$(date +%s)}"
POOL="${SMOKE_POOL:-smoke-pool}"
RANGE="${SMOKE_RANGE:-10.99.0.0/28}"

step() { echo; echo "== $*"; }

# --- create pool / allocate / release ---------------------------------------------------------------
step "create pool $CLOUD/$ZONE/$POOL ($RANGE)"
ipam -o json pool create "$CLOUD" "$ZONE" "$POOL" --range "$RANGE" \
  || die "creating the pool failed"

step "allocate one address in $POOL"
ALLOCATION="$(ipam -o json allocate "$CLOUD" "$ZONE" "$POOL" --vm smoke-vm-1 --name eth0)" \
  || die "allocating failed"
echo "$ALLOCATION"
ADDRESS="$(ALLOCATION="$ALLOCATION" RANGE="$RANGE" node -e '
  const text = process.env.ALLOCATION;
  let address;
  try { address = JSON.parse(text).address; } catch { address = text.match(/\b(\d{1,3}(?:\.\d{1,3}){3})\b/)?.[1]; }
  if (!address || !address.startsWith(process.env.RANGE.split(".").slice(0, 3).join(".") + ".")) process.exit(1);
  console.log(address);
')" || die "the allocation did not return an address inside $RANGE"
echo "allocated $ADDRESS"

step "release $ADDRESS"
# Releases are by address at cloud level (DELETE /v1/clouds/{cloud}/addresses/{address}); --vm guards
# against releasing somebody else's address.
ipam release "$CLOUD" "$ADDRESS" --vm smoke-vm-1 \
  || die "releasing $ADDRESS failed"

echo
echo "SMOKE OK: pool created, $ADDRESS allocated and released through $IPAM_ENDPOINT"
