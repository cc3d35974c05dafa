// k8s-validate.js -- offline checks of rendered Kubernetes manifests (the
// output of `kubectl kustomize`) and of a resolved docker-compose file.
//
//   node tests/deploy/k8s-validate.js RENDERED.yaml... [--compose RESOLVED.yaml]
//
// For every object: the Kubernetes 1.27 schema shipped by kubernetes-models
// (types, required fields) plus a strict unknown-field check, our own
// schemas for the custom resources (crd-schemas.js), the policy every Herald
// workload follows (probes, resources, non-root, read-only root, no
// privilege escalation, capabilities dropped) and references between
// objects (selectors, Services, Ingress backends, HPA/PDB targets). It
// never contacts a cluster. Prints one line per problem, then
// "N passed, N failed" (one test per object); exits 1 on any problem.
"use strict";

const fs = require("fs");
const path = require("path");

const JS = process.env.HERALD_JS_MODULES ||
    path.join(__dirname, "..", "js", "node_modules");
const YAML = require(path.join(JS, "yaml"));
const CRDS = require("./crd-schemas.js");

// --- kubernetes-models schemas, with unknown-field tracking ---------------

const schemaCache = new Map();

function k8sSchema(name) {
    if (schemaCache.has(name))
        return schemaCache.get(name);
    let fn = null;
    for (const dir of ["kubernetes-models/_schemas",
        "@kubernetes-models/apimachinery/_schemas"]) {
        const f = path.join(JS, dir, name + ".js");
        if (fs.existsSync(f)) {
            fn = require(f).validate;
            break;
        }
    }
    schemaCache.set(name, fn);
    return fn;
}

// "apps/v1" + "Deployment" -> the validate function of
// IoK8sApiAppsV1Deployment, or null when kubernetes-models has no such kind.
function builtinSchema(apiVersion, kind) {
    const slash = apiVersion.indexOf("/");
    const mod = slash < 0 ? apiVersion : apiVersion.slice(0, slash) + "/" +
        apiVersion.slice(slash + 1);
    let exp;
    try {
        exp = require(path.join(JS, "kubernetes-models", mod));
    } catch (e) {
        return null;
    }
    if (!exp[kind])
        return null;
    const long = Object.keys(exp).find((k) => k.startsWith("IoK8s") &&
        k.endsWith(kind) && exp[k] === exp[kind]);
    return long ? k8sSchema(long) : null;
}

// The compiled validators read exactly the properties their schema knows,
// and enumerate the keys of free-form maps (labels, data, limits). A proxy
// records both; any key never read, in an object never enumerated, is a
// field the schema does not have.
function track(value, at, seen, enumerated) {
    if (value === null || typeof value !== "object")
        return value;
    const copy = Array.isArray(value) ? [] : {};
    for (const k of Object.keys(value))
        copy[k] = track(value[k], at + "/" + k, seen, enumerated);
    return new Proxy(copy, {
        get(t, k, r) {
            if (typeof k === "string")
                seen.add(at + "/" + k);
            return Reflect.get(t, k, r);
        },
        has(t, k) {
            if (typeof k === "string")
                seen.add(at + "/" + k);
            return Reflect.has(t, k);
        },
        ownKeys(t) {
            enumerated.add(at);
            return Reflect.ownKeys(t);
        },
    });
}

function unknownKeys(value, at, seen, enumerated, out) {
    if (value === null || typeof value !== "object")
        return;
    if (Array.isArray(value)) {
        value.forEach((v, i) => unknownKeys(v, at + "/" + i, seen, enumerated, out));
        return;
    }
    for (const k of Object.keys(value)) {
        const p = at + "/" + k;
        if (!enumerated.has(at) && !seen.has(p))
            out.push(p);
        else
            unknownKeys(value[k], p, seen, enumerated, out);
    }
}

function ajvMessage(e) {
    const p = e.params || {};
    switch (e.keyword) {
    case "required":
        return `missing required field "${p.missingProperty}"`;
    case "type":
        return `must be ${p.type}`;
    case "enum":
        return `must be one of ${JSON.stringify(p.allowedValues)}`;
    case "format":
        return `must match format "${p.format}"`;
    default:
        return e.message || `fails ${e.keyword} ${JSON.stringify(p)}`;
    }
}

// Validates value (found at path prefix "at") against a compiled schema;
// pushes {path, msg} into out.
function checkK8s(validate, value, at, out) {
    const seen = new Set();
    const enumerated = new Set();
    const proxy = track(value, "", seen, enumerated);
    if (!validate(proxy)) {
        const errs = validate.errors || [];
        const shown = new Set();
        for (const e of errs) {
            const line = (at + e.instancePath) + "\u0000" + ajvMessage(e);
            if (shown.has(line) || e.keyword === "oneOf" || e.keyword === "anyOf")
                continue;
            shown.add(line);
            out.push({ path: at + e.instancePath, msg: ajvMessage(e) });
        }
    }
    const unknown = [];
    unknownKeys(value, "", seen, enumerated, unknown);
    for (const u of unknown)
        out.push({ path: at + u, msg: "unknown field" });
}

// --- the small schema language of crd-schemas.js ---------------------------

function typeName(v) {
    if (v === null)
        return "null";
    if (Array.isArray(v))
        return "array";
    if (typeof v === "number")
        return Number.isInteger(v) ? "integer" : "number";
    return typeof v;
}

function checkDsl(t, v, at, out) {
    const bad = (msg) => out.push({ path: at, msg });
    if (t === "any")
        return;
    if (typeof t === "string") {
        const got = typeName(v);
        const ok = {
            string: got === "string",
            integer: got === "integer",
            number: got === "integer" || got === "number",
            boolean: got === "boolean",
            scalar: ["string", "integer", "number", "boolean"].includes(got),
            quantity: ["string", "integer", "number"].includes(got),
        }[t];
        if (!ok)
            bad(`must be ${t}`);
        return;
    }
    if (t.enum) {
        if (!t.enum.includes(v))
            bad(`must be one of ${JSON.stringify(t.enum)}`);
        return;
    }
    if (t.k8s) {
        checkK8s(k8sSchema(t.k8s), v, at, out);
        return;
    }
    if (t.arr) {
        if (!Array.isArray(v))
            return bad("must be array");
        v.forEach((x, i) => checkDsl(t.arr, x, at + "/" + i, out));
        return;
    }
    if (typeName(v) !== "object")
        return bad("must be object");
    if (t.map) {
        for (const k of Object.keys(v))
            checkDsl(t.map, v[k], at + "/" + k, out);
        return;
    }
    for (const k of Object.keys(v)) {
        if (!(k in t.obj))
            out.push({ path: at + "/" + k, msg: "unknown field" });
        else
            checkDsl(t.obj[k], v[k], at + "/" + k, out);
    }
    for (const r of t.required || [])
        if (!(r in v))
            out.push({ path: at, msg: `missing required field "${r}"` });
}

function checkCustom(spec, obj, out) {
    for (const k of Object.keys(obj)) {
        if (!["apiVersion", "kind", "metadata", "spec", "status"].includes(k))
            out.push({ path: "/" + k, msg: "unknown field" });
    }
    if (typeName(obj.metadata) !== "object")
        out.push({ path: "/metadata", msg: "must be object" });
    else
        checkK8s(k8sSchema("IoK8sApimachineryPkgApisMetaV1ObjectMeta"),
            obj.metadata, "/metadata", out);
    if (obj.spec === undefined)
        out.push({ path: "", msg: 'missing required field "spec"' });
    else
        checkDsl(spec, obj.spec, "/spec", out);
}

// --- policy -----------------------------------------------------------------

function podSpecOf(o) {
    switch (o.kind) {
    case "Deployment": case "StatefulSet": case "DaemonSet":
    case "ReplicaSet": case "Job":
        return { at: "/spec/template/spec", pod: o.spec?.template?.spec };
    case "CronJob":
        return { at: "/spec/jobTemplate/spec/template/spec",
            pod: o.spec?.jobTemplate?.spec?.template?.spec };
    case "Pod":
        return { at: "/spec", pod: o.spec };
    default:
        return null;
    }
}

function checkContainer(c, pod, at, init, shutdownS, out) {
    const bad = (msg) => out.push({ path: at, msg: `container "${c.name}": ${msg}` });
    const psc = pod.securityContext || {};
    const csc = c.securityContext || {};
    if (!init) {
        if (!c.livenessProbe)
            bad("no livenessProbe");
        if (!c.readinessProbe)
            bad("no readinessProbe");
    }
    const r = c.resources || {};
    for (const [k, what] of [["requests", "cpu"], ["requests", "memory"],
        ["limits", "cpu"], ["limits", "memory"]]) {
        if (!r[k] || r[k][what] === undefined)
            bad(`no resources.${k}.${what}`);
    }
    const nonRoot = csc.runAsNonRoot ?? psc.runAsNonRoot;
    const uid = csc.runAsUser ?? psc.runAsUser;
    if (nonRoot !== true)
        bad("may run as root: runAsNonRoot is not true");
    if (uid === undefined)
        bad("may run as root: no runAsUser (set a non-zero uid)");
    else if (uid === 0)
        bad("runs as root: runAsUser is 0");
    if (csc.readOnlyRootFilesystem !== true)
        bad("readOnlyRootFilesystem is not true");
    if (csc.allowPrivilegeEscalation !== false)
        bad("allowPrivilegeEscalation is not false");
    if (csc.privileged === true)
        bad("privileged");
    const caps = csc.capabilities || {};
    if (!(caps.drop || []).includes("ALL"))
        bad('capabilities.drop does not contain "ALL"');
    if ((caps.add || []).length)
        bad(`adds capabilities ${JSON.stringify(caps.add)}`);
    if (!c.image || !/:[^/]+$/.test(c.image) || /:latest$/.test(c.image))
        bad(`image "${c.image}" has no pinned tag`);
    void shutdownS;
}

function checkWorkload(o, shutdownS, out) {
    const ps = podSpecOf(o);
    if (!ps || !ps.pod)
        return;
    const { at, pod } = ps;
    for (const k of ["hostNetwork", "hostPID", "hostIPC"])
        if (pod[k] === true)
            out.push({ path: at + "/" + k, msg: `${k} is true` });
    (pod.containers || []).forEach((c, i) =>
        checkContainer(c, pod, `${at}/containers/${i}`, false, shutdownS, out));
    (pod.initContainers || []).forEach((c, i) =>
        checkContainer(c, pod, `${at}/initContainers/${i}`, true, shutdownS, out));
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    if (grace <= shutdownS)
        out.push({ path: at + "/terminationGracePeriodSeconds",
            msg: `${grace} s is not above HERALD_SHUTDOWN_TIMEOUT_MS (${shutdownS} s)` });
    if (o.kind === "Deployment" || o.kind === "StatefulSet") {
        const sel = o.spec?.selector?.matchLabels || {};
        const labels = o.spec?.template?.metadata?.labels || {};
        for (const [k, v] of Object.entries(sel))
            if (labels[k] !== v)
                out.push({ path: "/spec/selector", msg: `selector ${k}=${v} does not match the pod template's labels` });
    }
}

// --- references between objects ---------------------------------------------

function matches(selector, labels) {
    const entries = Object.entries(selector || {});
    return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

function checkReferences(objs) {
    const ns = (o) => o.metadata?.namespace || "";
    const pods = objs.map((e) => ({ e, ps: podSpecOf(e.obj) }))
        .filter((x) => x.ps && x.ps.pod)
        .map((x) => ({ e: x.e, pod: x.ps.pod,
            labels: (x.e.obj.kind === "Pod" ? x.e.obj.metadata?.labels
                : (x.e.obj.kind === "CronJob" ? x.e.obj.spec?.jobTemplate?.spec?.template?.metadata?.labels
                    : x.e.obj.spec?.template?.metadata?.labels)) || {} }));
    // a StatefulSet's controller labels pod <name>-<i> with its name: one
    // entry per replica, so that a Service of one pod selects something
    for (const p of pods.slice()) {
        const o = p.e.obj;
        if (o.kind !== "StatefulSet")
            continue;
        for (let i = 0; i < (o.spec?.replicas ?? 1); i++)
            pods.push({ e: p.e, pod: p.pod, labels: { ...p.labels,
                "statefulset.kubernetes.io/pod-name": `${o.metadata?.name}-${i}` } });
    }
    const find = (kind, name, n) => objs.find((e) => e.obj.kind === kind &&
        e.obj.metadata?.name === name && ns(e.obj) === n);
    for (const e of objs) {
        const o = e.obj;
        const n = ns(o);
        if (o.kind === "Service" && o.spec?.selector) {
            const targets = pods.filter((p) => ns(p.e.obj) === n && matches(o.spec.selector, p.labels));
            if (!targets.length) {
                e.problems.push({ path: "/spec/selector", msg: "selects no workload" });
                continue;
            }
            (o.spec.ports || []).forEach((p, i) => {
                if (typeof p.targetPort !== "string")
                    return;
                const ok = targets.some((t) => (t.pod.containers || []).some((c) =>
                    (c.ports || []).some((cp) => cp.name === p.targetPort)));
                if (!ok)
                    e.problems.push({ path: `/spec/ports/${i}/targetPort`, msg: `no container port named "${p.targetPort}"` });
            });
        }
        if (o.kind === "HorizontalPodAutoscaler") {
            const ref = o.spec?.scaleTargetRef || {};
            if (!find(ref.kind, ref.name, n))
                e.problems.push({ path: "/spec/scaleTargetRef", msg: `${ref.kind}/${ref.name} does not exist` });
        }
        if (o.kind === "PodDisruptionBudget") {
            const sel = o.spec?.selector?.matchLabels;
            if (!pods.some((p) => ns(p.e.obj) === n && matches(sel, p.labels)))
                e.problems.push({ path: "/spec/selector", msg: "selects no workload" });
        }
        if (o.kind === "Ingress") {
            (o.spec?.rules || []).forEach((r, i) => (r.http?.paths || []).forEach((p, j) => {
                const svc = p.backend?.service;
                if (!svc)
                    return;
                const s = find("Service", svc.name, n);
                const at = `/spec/rules/${i}/http/paths/${j}/backend/service`;
                if (!s)
                    e.problems.push({ path: at, msg: `Service ${svc.name} does not exist` });
                else if (svc.port?.name && !(s.obj.spec?.ports || []).some((sp) => sp.name === svc.port.name))
                    e.problems.push({ path: at, msg: `Service ${svc.name} has no port "${svc.port.name}"` });
            }));
        }
        for (const p of pods.filter((x) => x.e === e)) {
            for (const c of [...(p.pod.containers || []), ...(p.pod.initContainers || [])]) {
                for (const ef of c.envFrom || []) {
                    const cm = ef.configMapRef;
                    if (cm && !cm.optional && !find("ConfigMap", cm.name, n))
                        e.problems.push({ path: "", msg: `container "${c.name}": ConfigMap ${cm.name} does not exist` });
                }
            }
        }
        if (o.kind === "ConfigMap" && o.metadata?.labels?.grafana_dashboard !== undefined) {
            for (const [k, v] of Object.entries(o.data || {})) {
                try {
                    const d = JSON.parse(v);
                    const ids = (d.panels || []).map((p) => p.id);
                    if (!d.title || !ids.length || new Set(ids).size !== ids.length)
                        e.problems.push({ path: `/data/${k}`, msg: "dashboard needs a title and panels with unique ids" });
                } catch (err) {
                    e.problems.push({ path: `/data/${k}`, msg: `not JSON: ${err.message}` });
                }
            }
        }
    }
}

// --- docker-compose (resolved by `docker-compose config`) ------------------

const HERALD_SERVERS = ["herald-api", "herald-hub", "herald-relay",
    "herald-worker-fcm", "herald-worker-apns", "herald-worker-hms",
    "herald-worker-webpush"];

function checkCompose(file, doc) {
    const results = [];
    for (const [name, s] of Object.entries(doc.services || {})) {
        const out = [];
        const cmd = Array.isArray(s.command) ? s.command : [];
        if (!s.restart)
            out.push({ path: "/restart", msg: "no restart policy" });
        if (s.privileged === true)
            out.push({ path: "/privileged", msg: "privileged" });
        if (s.user !== undefined && /^(0|root)(:|$)/.test(String(s.user)))
            out.push({ path: "/user", msg: "runs as root" });
        if (cmd.length === 1 && HERALD_SERVERS.includes(cmd[0])) {
            const test = (s.healthcheck?.test || []).join(" ");
            if (!test.includes("/readyz"))
                out.push({ path: "/healthcheck", msg: "no healthcheck on /readyz" });
            if (s.read_only !== true)
                out.push({ path: "/read_only", msg: "root filesystem is not read-only" });
            if (!(s.cap_drop || []).includes("ALL"))
                out.push({ path: "/cap_drop", msg: 'cap_drop does not contain "ALL"' });
        }
        results.push({ file, obj: { kind: "compose service", metadata: { name } }, problems: out });
    }
    return results;
}

// --- main -------------------------------------------------------------------

function shutdownSeconds(objs) {
    for (const e of objs) {
        const v = e.obj.kind === "ConfigMap" && e.obj.data?.HERALD_SHUTDOWN_TIMEOUT_MS;
        if (v)
            return Math.ceil(Number(v) / 1000);
    }
    return 15;
}

function fmtPath(p) {
    if (!p)
        return "";
    return p.split("/").filter(Boolean)
        .map((s) => /^\d+$/.test(s) ? `[${s}]` : "." + s).join("").replace(/^\./, "") + ": ";
}

function main(argv) {
    const files = [];
    const composeFiles = [];
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--compose")
            composeFiles.push(argv[++i]);
        else
            files.push(argv[i]);
    }
    let entries = [];
    let failedFiles = 0;
    for (const f of files) {
        const objs = [];
        let text;
        try {
            text = fs.readFileSync(f, "utf8");
        } catch (e) {
            console.log(`${f}: ${e.message}`);
            failedFiles++;
            continue;
        }
        for (const doc of YAML.parseAllDocuments(text, { version: "1.1" })) {
            if (doc.errors.length) {
                console.log(`${f}: YAML error: ${doc.errors[0].message}`);
                failedFiles++;
                continue;
            }
            const obj = doc.toJS();
            if (obj === null || obj === undefined)
                continue;
            objs.push({ file: f, obj, problems: [] });
        }
        const shutdownS = shutdownSeconds(objs);
        for (const e of objs) {
            const o = e.obj;
            if (typeName(o) !== "object" || typeof o.apiVersion !== "string" ||
                typeof o.kind !== "string") {
                e.problems.push({ path: "", msg: "not a Kubernetes object (apiVersion and kind)" });
                continue;
            }
            const custom = CRDS[`${o.apiVersion}/${o.kind}`];
            const builtin = custom ? null : builtinSchema(o.apiVersion, o.kind);
            if (custom)
                checkCustom(custom, o, e.problems);
            else if (builtin)
                checkK8s(builtin, o, "", e.problems);
            else
                e.problems.push({ path: "", msg: `no schema for ${o.apiVersion} ${o.kind}` });
            checkWorkload(o, shutdownS, e.problems);
        }
        checkReferences(objs);
        entries = entries.concat(objs);
    }
    for (const f of composeFiles) {
        try {
            entries = entries.concat(checkCompose(f, YAML.parse(fs.readFileSync(f, "utf8"))));
        } catch (e) {
            console.log(`${f}: ${e.message}`);
            failedFiles++;
        }
    }
    let passed = 0;
    let failed = failedFiles;
    for (const e of entries) {
        if (!e.problems.length) {
            passed++;
            continue;
        }
        failed++;
        const who = `${e.obj.kind}/${e.obj.metadata?.name || "?"}`;
        for (const p of e.problems)
            console.log(`${e.file}: ${who}: ${fmtPath(p.path)}${p.msg}`);
    }
    console.log(`${passed} passed, ${failed} failed`);
    return failed ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
