/* api_bulk.c -- a batch of device_register commands stored together.
 *
 * Each command is validated by api_register_parse, exactly as the single
 * call; an invalid one is answered with its error at once. The valid
 * ones go to PostgreSQL as one statement (dev_register_bulk: the
 * parameters as arrays; every user's lock taken first, then
 * herald_device_register called once per row, in order, in one
 * transaction), so a device gets exactly the row, the id and the user
 * topics the single call would give it. When no command
 * names an id and no token comes twice, the commands touch different
 * devices and dev_register_many inserts the new ones set-wise (the
 * function's rules for a new device, in one insert) and sends the
 * others through the same function. Rows run sorted by
 * (app, user, token), the order the group commit of single calls takes
 * the users' locks in, unless a command names an id or a token comes
 * twice: then in the batch's order, as the single calls one after the
 * other would apply them. If the statement fails (a row's
 * constraint, a deadlock, a literal too long), nothing of it applied and
 * every valid command runs again as the single call does, each answered
 * with what that call gives. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "services/api/api.h"
#include "services/api/api_store.h"
#include "core/banned.h"

/* One array literal carries a column of a whole batch: bounded by what
 * one request body can hold, every byte possibly escaped twice (the
 * topic lists are literals inside the literal), plus quotes and commas. */
#define BULK_ARRAY_MAX (4 * HD_API_MAX_BODY + 8 * API_BATCH_MAX)

struct bulk_item {
    struct api_call *call;
    struct api_register r;
    struct api_register_row w;
    char *key;  /* app \001 user \001 token */
    size_t pos; /* place in the batch */
};

static int
by_key(const void *a, const void *b)
{
    const struct bulk_item *x = *(struct bulk_item *const *)a;
    const struct bulk_item *y = *(struct bulk_item *const *)b;
    int c = strcmp(x->key, y->key);

    if (c != 0)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int
by_token(const void *a, const void *b)
{
    const struct bulk_item *x = *(struct bulk_item *const *)a;
    const struct bulk_item *y = *(struct bulk_item *const *)b;
    int c = strcmp(x->r.app, y->r.app);

    if (c == 0)
        c = (int)x->r.provider - (int)y->r.provider;
    return c != 0 ? c : strcmp(x->r.token, y->r.token);
}

static int
by_pos(const void *a, const void *b)
{
    const struct bulk_item *x = *(struct bulk_item *const *)a;
    const struct bulk_item *y = *(struct bulk_item *const *)b;

    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The order the rows run in. Commands that touch different devices (no
 * id given, no token twice) may run in lock order; otherwise one could
 * see another's effect, so they run in the batch's order. */
static int
order(struct bulk_item **items, size_t n)
{
    size_t i;

    qsort(items, n, sizeof(*items), by_token);
    for (i = 0; i < n; i++)
        if (items[i]->r.id != NULL ||
            (i > 0 && by_token(&items[i - 1], &items[i]) == 0)) {
            qsort(items, n, sizeof(*items), by_pos);
            return 0;
        }
    qsort(items, n, sizeof(*items), by_key);
    return 1;
}

int
api_bulk_wants(json_t *cmds)
{
    json_t *c;
    size_t i;

    if (!json_is_array(cmds) || json_array_size(cmds) < 2)
        return 0;
    json_array_foreach(cmds, i, c)
    {
        const char *name = json_object_iter_key(json_object_iter(c));

        if (name == NULL || strcmp(name, "device_register") != 0)
            return 0;
    }
    return 1;
}

/* The call of command i, answering into slot i of col. */
static struct api_call *
command_call(struct api_call *batch, struct api_collect *col, size_t i,
             json_t *cmd)
{
    json_t *params = json_object_iter_value(json_object_iter(cmd));
    struct api_call *call = hd_xcalloc(1, sizeof(*call));

    call->ctx = batch->ctx;
    call->req = batch->req;
    call->collect = col;
    call->slot = i;
    call->params = json_is_object(params) ? json_incref(params) : json_object();
    call->method = "device_register";
    call->reply_key = "device_register";
    return call;
}

/* Validates each command; answers the bad ones. Returns the good ones
 * in the order they run in items, their count in *n, and 1 when they
 * touch different devices. */
static int
validate(struct api_call *batch, struct api_collect *col, json_t *cmds,
         struct bulk_item *all, struct bulk_item **items, size_t *n)
{
    struct hd_err err;
    size_t i;

    *n = 0;
    for (i = 0; i < json_array_size(cmds); i++) {
        struct bulk_item *it = &all[i];

        memset(&err, 0, sizeof(err));
        it->call = command_call(batch, col, i, json_array_get(cmds, i));
        it->pos = i;
        if (api_register_parse(&batch->ctx->rules, it->call->params, &it->r,
                               &err) < 0 ||
            api_register_row(&it->w, &it->r, 0, &err) < 0) {
            api_call_fail(it->call, &err);
            it->call = NULL; /* it->w is released with the others */
            continue;
        }
        it->key = hd_xasprintf("%s%c%s%c%s", it->r.app, '\001', it->r.user,
                               '\001', it->r.token);
        items[(*n)++] = it;
    }
    return order(items, *n);
}

/* The sixteen column literals of dev_register_bulk. 0 or -1. */
static int
columns(struct bulk_item **items, size_t n, struct hd_buf *cols,
        struct hd_err *err)
{
    size_t i;
    int j;

    for (j = 0; j < API_REGISTER_PARAMS; j++) {
        hd_pg_array_begin(&cols[j]);
        for (i = 0; i < n; i++)
            if (hd_pg_array_add(&cols[j], items[i]->w.vals[j], err) < 0)
                return -1;
        if (hd_pg_array_end(&cols[j], err) < 0)
            return -1;
    }
    return 0;
}

/* Runs the statement; 0 with every item answered, -1 when nothing was
 * answered (the caller falls back to single calls). */
static int
store(struct api_ctx *ctx, struct bulk_item **items, size_t n, int apart)
{
    struct hd_buf cols[API_REGISTER_PARAMS];
    const char *vals[API_REGISTER_PARAMS];
    json_t **devices = hd_xcalloc(n, sizeof(*devices));
    struct hd_err err = {0};
    PGresult *res = NULL;
    int j, row, rc = -1;
    size_t i;

    for (j = 0; j < API_REGISTER_PARAMS; j++)
        hd_buf_init(&cols[j], BULK_ARRAY_MAX);
    if (columns(items, n, cols, &err) < 0)
        goto out;
    for (j = 0; j < API_REGISTER_PARAMS; j++)
        vals[j] = cols[j].data;
    if (api_query(ctx->pg, ctx->cfg.pg_wait_ms,
                  apart ? "dev_register_many" : "dev_register_bulk",
                  API_REGISTER_PARAMS, vals, &res, &err) < 0) {
        hd_log(HD_LOG_WARN, 0, "bulk register: %s; as single calls", err.msg);
        goto out;
    }
    /* one row per item, numbered from 1 in the last column */
    for (row = 0; row < PQntuples(res); row++) {
        long long k = api_pg_get_ll(res, row, PQnfields(res) - 1);

        if (k < 1 || (size_t)k > n || devices[k - 1] != NULL)
            break;
        devices[k - 1] = api_device_json(res, row, 0);
    }
    for (i = 0; i < n; i++)
        if (devices[i] == NULL)
            goto out; /* applied but not answered: the retry is harmless */
    for (i = 0; i < n; i++) {
        api_register_reply(items[i]->call, devices[i]);
        items[i]->call = NULL;
        devices[i] = NULL;
    }
    hd_counter_inc(
        hd_metric_with(ctx->m.bulk_batches, apart ? "many" : "bulk"));
    rc = 0;
out:
    for (i = 0; i < n; i++)
        json_decref(devices[i]);
    free(devices);
    PQclear(res);
    for (j = 0; j < API_REGISTER_PARAMS; j++)
        hd_buf_release(&cols[j]);
    return rc;
}

void
api_bulk_register(struct api_call *batch, struct api_collect *col, json_t *cmds)
{
    size_t total = json_array_size(cmds), n, i;
    struct bulk_item *all = hd_xcalloc(total, sizeof(*all));
    struct bulk_item **items = hd_xcalloc(total, sizeof(*items));

    int apart = validate(batch, col, cmds, all, items, &n);

    if (n > 0 && store(batch->ctx, items, n, apart) < 0) {
        /* as the single calls, in the batch's order */
        hd_counter_inc(batch->ctx->m.bulk_fallback);
        hd_counter_add(batch->ctx->m.bulk_fb_rows, n);
        for (i = 0; i < total; i++) {
            struct bulk_item *it = &all[i];
            struct hd_err err = {0};
            json_t *device = NULL;

            if (it->call == NULL)
                continue;
            if (api_register_exec(it->call->ctx, &it->r, 0, &device, &err) < 0)
                api_call_fail(it->call, &err);
            else
                api_register_reply(it->call, device);
            it->call = NULL;
        }
    }
    for (i = 0; i < total; i++) {
        api_register_row_release(&all[i].w);
        free(all[i].key);
    }
    free(items);
    free(all);
}
