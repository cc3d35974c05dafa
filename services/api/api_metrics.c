/* api_metrics.c -- herald-api's metric families, registered once at start.
 *
 * Push-pipeline names follow DESIGN.md section 6 (herald_push_*), with
 * provider "all" and queue the topic for the fan-out and feedback stages,
 * which serve every provider; the rest are herald_api_* and the token
 * cleanup breaker's herald_token_cleanup_*. */
#include "services/api/api.h"
#include "common/banned.h"

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
    static const char *const app_prov[] = {"app", "provider"};
    struct hd_metric *lag, *inflight;

    m->calls = hd_metrics_counter(reg, "herald_api_calls_total",
                                  "Server API calls by method and result "
                                  "code (0 = ok).",
                                  2, method_code);
    m->events = hd_metrics_counter(reg, "herald_api_events_total",
                                   "POST /events by result.", 1, result);
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
        reg, "herald_token_cleanup_circuit_open",
        "1 while token removal is suspended for an app and provider because "
        "every recent send failed as token-invalid (a configuration "
        "problem, not dead tokens).",
        2, app_prov);
    m->breaker_kept = hd_metrics_counter(
        reg, "herald_token_cleanup_skipped_total",
        "Devices kept although reported token_invalid, because the circuit "
        "breaker was open.",
        2, app_prov);
}
