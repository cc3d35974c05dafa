/* api_metrics.c -- herald-api's metric families, registered once at start.
 *
 * Push-pipeline names follow DESIGN.md section 6 (herald_push_*), with
 * provider "all" and queue the topic for the fan-out and feedback stages,
 * which serve every provider; the rest are herald_api_* and the token
 * cleanup breaker's herald_token_cleanup_*. */
#include <pthread.h>
#include <string.h>

#include "services/api/api.h"
#include "core/banned.h"

void
api_metrics_init(struct api_metrics *m, struct hd_metrics *reg)
{
    static const char *const method_code[] = {"method", "code"};
    static const char *const result[] = {"result"};
    static const char *const provider[] = {"provider"};
    static const char *const prov_queue[] = {"provider", "queue"};
    static const char *const prov_rtype[] = {"provider", "recipient_type"};
    static const char *const prov_outcome[] = {"provider", "outcome"};
    static const char *const prov_reason[] = {"provider", "reason"};
    static const char *const prov[] = {"provider"};
    static const char *const strat_result[] = {"strategy", "result"};
    struct hd_metric *lag, *inflight;

    m->calls = hd_metrics_counter(reg, "herald_api_calls_total",
                                  "Server API calls by method and result "
                                  "code (0 = ok).",
                                  2, method_code);
    m->events = hd_metrics_counter(reg, "herald_api_events_total",
                                   "POST /events by result.", 1, result);
    hd_bw_unknown_init(&m->bw_unknown, reg,
                       "herald_api_bitwarden_unknown_type_total");
    m->undeliverable = hd_metric_with(
        hd_metrics_counter(reg, "herald_api_undeliverable_registrations_total",
                           "Bitwarden device registrations stored for a "
                           "provider no worker delivers to (adm: "
                           "AndroidAmazon); sends never reach them.",
                           1, (const char *const[]){"provider"}),
        "adm");
    m->fo_requests = hd_metrics_counter(
        reg, "herald_api_fanout_requests_total",
        "Send requests the fan-out finished, by result (done, duplicate, "
        "expired, malformed).",
        1, result);
    m->fo_tokens =
        hd_metrics_counter(reg, "herald_api_fanout_tokens_total",
                           "Tokens put into delivery batches.", 1, provider);
    m->fo_batches =
        hd_metrics_counter(reg, "herald_api_fanout_batches_total",
                           "Delivery batches produced.", 1, provider);
    m->fo_limited = hd_metrics_counter(
        reg, "herald_api_fanout_limited_total",
        "Devices a send's limit_strategy held back, by strategy (rate_limit, "
        "time_limit) and result (delayed, dropped).",
        2, strat_result);
    m->fo_render_failed = hd_metrics_counter(
        reg, "herald_api_fanout_render_failures_total",
        "Devices whose templated notification did not render (reported "
        "failed with code template).",
        1, provider);
    m->job_duration = hd_metrics_histogram(
        reg, "herald_push_job_duration_seconds",
        "Fan-out of one request, from pick-up to its last batch "
        "acknowledged.",
        2, prov_rtype, hd_metrics_latency_buckets, hd_metrics_latency_nbuckets);
    lag = hd_metrics_gauge(reg, "herald_push_queue_consuming_lag_seconds",
                           "Age of the last record consumed.", 2, prov_queue);
    inflight = hd_metrics_gauge(reg, "herald_push_consuming_inflight_jobs",
                                "Records consumed and not yet finished.", 2,
                                prov_queue);
    m->fo_lag = hd_metric_with(lag, "all", "requests");
    m->fo_inflight = hd_metric_with(inflight, "all", "requests");
    m->fb_lag = hd_metric_with(lag, "all", "feedback");
    m->fb_inflight = hd_metric_with(inflight, "all", "feedback");
    m->feedback =
        hd_metrics_counter(reg, "herald_api_feedback_total",
                           "Delivery outcomes stored.", 2, prov_outcome);
    m->removed = hd_metrics_counter(reg, "herald_api_devices_removed_total",
                                    "Devices removed by token hygiene, by "
                                    "reason (token_invalid, inactive).",
                                    2, prov_reason);
    m->breaker_open = hd_metrics_gauge(
        reg, "herald_token_cleanup_circuits_open",
        "Apps of a provider whose token removal is suspended because every "
        "recent send failed as token-invalid (a configuration problem, not "
        "dead tokens); the log names each app.",
        1, prov);
    m->breaker_kept = hd_metrics_counter(
        reg, "herald_token_cleanup_skipped_total",
        "Devices kept although reported token_invalid, because the circuit "
        "breaker was open.",
        1, prov);
    m->bulk_batches = hd_metrics_counter(
        reg, "herald_api_register_batches_total",
        "Batches of device_register commands stored in one statement, by "
        "path (many: new devices inserted set-wise; bulk: the function per "
        "row).",
        1, (const char *const[]){"path"});
    m->bulk_fallback = hd_metric_with(hd_metrics_counter(
        reg, "herald_api_register_batch_fallbacks_total",
        "Batches of device_register commands whose statement failed (a "
        "row's constraint, a deadlock) and that ran again as single calls.",
        0, NULL));
    m->bulk_fb_rows = hd_metric_with(hd_metrics_counter(
        reg, "herald_api_register_batch_fallback_rows_total",
        "Registrations of those batches, run again one call each.", 0, NULL));
}

/* Adds what the group commit counted since the last scrape. */
static void
collect_register(void *ud)
{
    struct api_metrics *m = ud;
    struct hd_pg_group_stats now;

    pthread_mutex_lock(&m->reg_mu);
    hd_pg_group_stats(m->reg, &now);
    hd_counter_add(m->reg_groups, now.groups - m->reg_seen.groups);
    hd_counter_add(m->reg_grouped, now.grouped - m->reg_seen.grouped);
    hd_counter_add(m->reg_fallback, now.fallbacks - m->reg_seen.fallbacks);
    hd_counter_add(m->reg_arrays, now.arrays - m->reg_seen.arrays);
    hd_counter_add(m->reg_ordered, now.ordered - m->reg_seen.ordered);
    m->reg_seen = now;
    pthread_mutex_unlock(&m->reg_mu);
}

void
api_metrics_watch_register(struct api_metrics *m, struct hd_metrics *reg,
                           struct hd_pg_group *g)
{
    m->reg = g;
    pthread_mutex_init(&m->reg_mu, NULL);
    memset(&m->reg_seen, 0, sizeof(m->reg_seen));
    m->reg_groups = hd_metric_with(
        hd_metrics_counter(reg, "herald_api_register_groups_total",
                           "Database round trips (one commit each) that "
                           "carried several device registrations.",
                           0, NULL));
    m->reg_grouped = hd_metric_with(
        hd_metrics_counter(reg, "herald_api_register_grouped_total",
                           "Device registrations that went to the database "
                           "in a group.",
                           0, NULL));
    m->reg_fallback = hd_metric_with(
        hd_metrics_counter(reg, "herald_api_register_group_fallbacks_total",
                           "Groups run again one registration at a time "
                           "because one of them failed.",
                           0, NULL));
    m->reg_arrays = hd_metric_with(
        hd_metrics_counter(reg, "herald_api_register_group_arrays_total",
                           "Groups that went as one call of "
                           "herald_device_register_many (no id given, no "
                           "token twice).",
                           0, NULL));
    m->reg_ordered = hd_metric_with(
        hd_metrics_counter(reg, "herald_api_register_group_ordered_total",
                           "Groups that went as one call of "
                           "herald_device_register_bulk (an id given or a "
                           "token twice: in order, every user's lock "
                           "first).",
                           0, NULL));
    hd_metrics_on_collect(reg, collect_register, m);
}
