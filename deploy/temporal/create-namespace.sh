#!/bin/sh
# Registers Vagt's namespace once Temporal answers; does nothing when it exists. Closed
# incidents stay in Temporal for the retention period (their record stays in Vagt's read
# model for good).
set -eu

for attempt in $(seq 1 60); do
    temporal operator cluster health --address temporal:7233 >/dev/null 2>&1 && break
    echo "waiting for Temporal ($attempt)"
    sleep 2
done
temporal operator namespace describe --address temporal:7233 --namespace "$NAMESPACE" \
    >/dev/null 2>&1 \
    || temporal operator namespace create --address temporal:7233 --namespace "$NAMESPACE" \
        --retention "$RETENTION"
echo "namespace $NAMESPACE is ready"
