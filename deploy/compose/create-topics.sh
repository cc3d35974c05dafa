#!/bin/sh
# create-topics.sh -- creates Herald's Kafka topics for docker-compose (the
# kafka-topics one-shot service runs it inside the apache/kafka image).
#
# Idempotent (--if-not-exists); it never changes an existing topic's
# partitions or settings. Partition counts follow docs/kafka-messages.md
# and must stay in step with deploy/k8s/base/kafka-topics.yaml.
set -eu
B=${KAFKA_BOOTSTRAP:-kafka:9092}
P=${HERALD_KAFKA_TOPIC_PREFIX:-herald.}
RF=${TOPIC_REPLICATION_FACTOR:-1}
T=/opt/kafka/bin/kafka-topics.sh

# name:partitions:retention.ms (events are live-only: hubs start at the
# latest offset; the DLQ is kept 30 days for operators)
for spec in events:4:86400000 broadcast:2:86400000 requests:8:604800000 \
    deliver.fcm:8:604800000 deliver.apns:8:604800000 deliver.hms:8:604800000 \
    deliver.webpush:8:604800000 feedback:8:604800000 dlq:2:2592000000; do
    name=$P${spec%%:*}
    rest=${spec#*:}
    parts=${rest%%:*}
    retention=${rest#*:}
    "$T" --bootstrap-server "$B" --create --if-not-exists --topic "$name" \
        --partitions "$parts" --replication-factor "$RF" \
        --config "retention.ms=$retention"
done
# presence (docs/hub.md): state kept by key, compacted rather than expired
"$T" --bootstrap-server "$B" --create --if-not-exists --topic "${P}presence" \
    --partitions 2 --replication-factor "$RF" --config cleanup.policy=compact
"$T" --bootstrap-server "$B" --list
