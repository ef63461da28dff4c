#!/usr/bin/env bash
# Deploys the IPAM stack to LocalStack with cdklocal (the aws-cdk-local package, fetched by npx on
# first use; install it once with `npm i -g aws-cdk-local` to avoid the download). Docker required.
#
#   docker compose -f deploy/localstack/docker-compose.yml up -d
#   bash deploy/localstack/deploy.sh [extra cdk deploy args, e.g. -c ipam:exportSchedule='rate(1 minute)']
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/localstack/common.sh

require_localstack

CDKLOCAL=(npx --yes "aws-cdk-local@${CDKLOCAL_VERSION:-latest}")
export CDK_DEFAULT_ACCOUNT="$LOCALSTACK_ACCOUNT" CDK_DEFAULT_REGION="$AWS_REGION"
mkdir -p "$(dirname "$OUTPUTS_FILE")"

echo "== cdklocal bootstrap aws://$LOCALSTACK_ACCOUNT/$AWS_REGION"
"${CDKLOCAL[@]}" bootstrap "aws://$LOCALSTACK_ACCOUNT/$AWS_REGION" --no-notices

echo "== cdklocal deploy $STACK_NAME"
# LocalStack has no VPC endpoints for a PRIVATE API and no replica Regions: force the single-Region,
# REGIONAL shape whatever cdk.json says; anything after the script's arguments still wins.
"${CDKLOCAL[@]}" deploy "$STACK_NAME" \
  --require-approval never \
  --no-notices \
  --outputs-file "$OUTPUTS_FILE" \
  -c 'ipam:replicaRegions=[]' \
  -c 'ipam:vpcEndpointIds=[]' \
  -c "ipam:stackName=$STACK_NAME" \
  "$@"

echo "== outputs ($OUTPUTS_FILE)"
cat "$OUTPUTS_FILE"
echo
echo "Deployed. Next: bash deploy/localstack/smoke.sh"
