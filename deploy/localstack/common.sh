# Shared by deploy.sh and smoke.sh (sourced, not run).
# LocalStack's edge endpoint and fake credentials; override LOCALSTACK_ENDPOINT / AWS_REGION if needed.

LOCALSTACK_ENDPOINT="${LOCALSTACK_ENDPOINT:-http://localhost:4566}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_ENDPOINT_URL="$LOCALSTACK_ENDPOINT"
LOCALSTACK_ACCOUNT="${LOCALSTACK_ACCOUNT:-000000000000}"
OUTPUTS_FILE="${OUTPUTS_FILE:-.ipam/localstack-outputs.json}"
STACK_NAME="${STACK_NAME:-Ipam}"

die() {
  {
    echo
    echo "############################################################################"
    echo "##  FAILED: $*"
    echo "############################################################################"
    echo
  } >&2
  exit 1
}

# Fails loudly unless LocalStack answers its health endpoint and reports the services the stack needs.
require_localstack() {
  local health_url="$LOCALSTACK_ENDPOINT/_localstack/health" body
  if ! command -v curl >/dev/null 2>&1; then
    die "curl is not installed: cannot check LocalStack at $health_url"
  fi
  if ! body="$(curl -fsS --max-time 5 "$health_url" 2>&1)"; then
    die "LocalStack is NOT reachable at $health_url ($body).
##  Start it first (Docker required):
##    docker compose -f deploy/localstack/docker-compose.yml up -d
##  Nothing was tested."
  fi
  # Every service the stack uses must be 'available' or 'running'.
  if ! HEALTH="$body" node -e '
    const h = JSON.parse(process.env.HEALTH).services ?? {};
    const need = ["cloudformation", "lambda", "apigateway", "dynamodb", "dynamodbstreams", "s3", "sqs", "logs", "events", "kms", "iam"];
    const bad = need.filter((s) => !["available", "running"].includes(h[s]));
    if (bad.length) { console.error("services not available: " + bad.map((s) => s + "=" + (h[s] ?? "missing")).join(", ")); process.exit(1); }
  '; then
    die "LocalStack at $LOCALSTACK_ENDPOINT is up but lacks services the stack needs (see above)."
  fi
  echo "LocalStack is healthy at $LOCALSTACK_ENDPOINT"
}
