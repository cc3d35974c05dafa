// crd-schemas.js -- strict schemas for the custom resources Herald's
// manifests use (Strimzi Kafka/KafkaNodePool/KafkaTopic, CloudNativePG
// Cluster, Prometheus Operator ServiceMonitor and PodMonitor), for k8s-validate.js.
//
// They cover the fields of those CRDs an operator of Herald is likely to
// set, not every field of the upstream CRDs: a field missing here is
// reported as unknown, so add it here (with its type) when you start using
// it. Nested Kubernetes types (resources, metadata) are checked against
// the kubernetes-models schemas by name ({ k8s: "IoK8s..." }).
"use strict";

// Type descriptors:
//   "string" "integer" "boolean" "number" "scalar" (string|number|boolean)
//   "quantity" (string or number), "any" (not inspected)
//   { enum: [...] }  { arr: T }  { map: T } (free keys, values of T)
//   { obj: { field: T, ... }, required: [...] }  { k8s: "SchemaName" }

const str = "string";
const int = "integer";
const bool = "boolean";
const resources = { k8s: "IoK8sApiCoreV1ResourceRequirements" };
const probe = { obj: { initialDelaySeconds: int, timeoutSeconds: int,
    periodSeconds: int, successThreshold: int, failureThreshold: int } };
const jvmOptions = { obj: { "-Xms": str, "-Xmx": str, gcLoggingEnabled: bool,
    javaSystemProperties: { arr: { obj: { name: str, value: str } } },
    "-XX": { map: str } } };
const secretKeyRef = { obj: { name: str, key: str }, required: ["name"] };

const strimziVolume = {
    obj: { id: int, type: { enum: ["ephemeral", "persistent-claim"] },
        size: str, sizeLimit: str, class: str, deleteClaim: bool,
        kraftMetadata: { enum: ["shared"] }, selector: { map: str },
        overrides: "any" },
    required: ["type"],
};
const strimziStorage = {
    obj: { type: { enum: ["jbod", "ephemeral", "persistent-claim"] },
        volumes: { arr: strimziVolume }, size: str, sizeLimit: str,
        class: str, deleteClaim: bool, kraftMetadata: { enum: ["shared"] },
        selector: { map: str } },
    required: ["type"],
};
const strimziOperator = { obj: { watchedNamespace: str, image: str,
    reconciliationIntervalMs: int, reconciliationIntervalSeconds: int,
    resources, logging: "any", jvmOptions, livenessProbe: probe,
    readinessProbe: probe, startupProbe: probe } };

const pgStorage = { obj: { size: str, storageClass: str,
    resizeInUseVolumes: bool, pvcTemplate: "any" } };

module.exports = {
    "kafka.strimzi.io/v1beta2/KafkaNodePool": {
        obj: {
            replicas: int,
            roles: { arr: { enum: ["controller", "broker"] } },
            storage: strimziStorage,
            resources,
            jvmOptions,
            template: "any",
        },
        required: ["replicas", "roles", "storage"],
    },
    "kafka.strimzi.io/v1beta2/Kafka": {
        obj: {
            kafka: {
                obj: {
                    version: str,
                    metadataVersion: str,
                    replicas: int,
                    image: str,
                    listeners: { arr: { obj: {
                        name: str, port: int,
                        type: { enum: ["internal", "route", "loadbalancer",
                            "nodeport", "ingress", "cluster-ip"] },
                        tls: bool, authentication: "any",
                        configuration: "any", networkPolicyPeers: "any",
                    }, required: ["name", "port", "type", "tls"] } },
                    config: { map: "scalar" },
                    storage: strimziStorage,
                    authorization: "any",
                    rack: { obj: { topologyKey: str }, required: ["topologyKey"] },
                    resources,
                    jvmOptions,
                    livenessProbe: probe,
                    readinessProbe: probe,
                    metricsConfig: "any",
                    logging: "any",
                    template: "any",
                },
                required: ["listeners"],
            },
            entityOperator: { obj: { topicOperator: strimziOperator,
                userOperator: strimziOperator, template: "any" } },
            cruiseControl: "any",
            kafkaExporter: "any",
            clusterCa: "any",
            clientsCa: "any",
            maintenanceTimeWindows: { arr: str },
        },
        required: ["kafka"],
    },
    "kafka.strimzi.io/v1beta2/KafkaTopic": {
        obj: {
            topicName: str,
            partitions: int,
            replicas: int,
            config: { map: "scalar" },
        },
    },
    "postgresql.cnpg.io/v1/Cluster": {
        obj: {
            description: str,
            instances: int,
            imageName: str,
            imagePullPolicy: { enum: ["Always", "IfNotPresent", "Never"] },
            primaryUpdateStrategy: { enum: ["unsupervised", "supervised"] },
            primaryUpdateMethod: { enum: ["switchover", "restart"] },
            minSyncReplicas: int,
            maxSyncReplicas: int,
            startDelay: int,
            stopDelay: int,
            switchoverDelay: int,
            failoverDelay: int,
            enableSuperuserAccess: bool,
            superuserSecret: { obj: { name: str }, required: ["name"] },
            logLevel: { enum: ["error", "warning", "info", "debug", "trace"] },
            priorityClassName: str,
            bootstrap: { obj: {
                initdb: { obj: { database: str, owner: str,
                    secret: { obj: { name: str }, required: ["name"] },
                    dataChecksums: bool, encoding: str, localeCollate: str,
                    localeCType: str, postInitSQL: { arr: str },
                    postInitApplicationSQL: { arr: str },
                    postInitTemplateSQL: { arr: str } } },
                recovery: "any",
                pg_basebackup: "any",
            } },
            postgresql: { obj: {
                parameters: { map: str },
                pg_hba: { arr: str },
                shared_preload_libraries: { arr: str },
            } },
            storage: pgStorage,
            walStorage: pgStorage,
            resources,
            affinity: "any",
            topologySpreadConstraints: "any",
            monitoring: { obj: { enablePodMonitor: bool,
                disableDefaultQueries: bool, customQueriesConfigMap: "any",
                customQueriesSecret: "any" } },
            backup: "any",
            certificates: "any",
            managed: "any",
            env: "any",
            envFrom: "any",
            inheritedMetadata: "any",
            serviceAccountTemplate: "any",
        },
        required: ["instances"],
    },
    "monitoring.coreos.com/v1/ServiceMonitor": {
        obj: {
            selector: { obj: { matchLabels: { map: str },
                matchExpressions: "any" } },
            namespaceSelector: { obj: { any: bool, matchNames: { arr: str } } },
            endpoints: { arr: { obj: {
                port: str, targetPort: "scalar", path: str,
                scheme: { enum: ["http", "https"] },
                interval: str, scrapeTimeout: str, honorLabels: bool,
                honorTimestamps: bool, params: { map: { arr: str } },
                bearerTokenSecret: secretKeyRef,
                tlsConfig: { obj: { insecureSkipVerify: bool, serverName: str,
                    ca: "any", cert: "any", keySecret: secretKeyRef,
                    caFile: str, certFile: str, keyFile: str } },
                relabelings: "any", metricRelabelings: "any",
            } } },
            jobLabel: str,
            targetLabels: { arr: str },
            podTargetLabels: { arr: str },
            sampleLimit: int,
        },
        required: ["selector", "endpoints"],
    },
    "monitoring.coreos.com/v1/PodMonitor": {
        obj: {
            selector: { obj: { matchLabels: { map: str },
                matchExpressions: "any" } },
            namespaceSelector: { obj: { any: bool, matchNames: { arr: str } } },
            podMetricsEndpoints: { arr: { obj: {
                port: str, targetPort: "scalar", path: str,
                scheme: { enum: ["http", "https"] },
                interval: str, scrapeTimeout: str, honorLabels: bool,
                honorTimestamps: bool, params: { map: { arr: str } },
                relabelings: "any", metricRelabelings: "any",
            } } },
            jobLabel: str,
            podTargetLabels: { arr: str },
            sampleLimit: int,
        },
        required: ["selector", "podMetricsEndpoints"],
    },
};
