/* api_tmpl.h -- per-device templates of a push: the subset of Go's
 * text/template that Centrifugo PRO's push templating uses.
 *
 * A template is text with actions {{ … }}; an action is one of
 *   .device.id  .device.user  .device.meta.<key>  .l10n.<key>
 *   default <literal> <field>      <field> | default <literal>
 *   <literal>
 * where a literal is [[text]] or a Go "string". A field that is not set
 * renders as "" (default then gives its literal); a translation (.l10n)
 * must have a default, for devices whose locale has none. The leading dot may
 * be left out (device.id), as rate-limit keys are written. Anything else is
 * refused when compiled, naming the field and the action.
 *
 * A notification's templates are every string value of its provider
 * parts; they are compiled once per send and rendered per device, each
 * string bounded. Pure code: no I/O; a compiled set is read-only and may
 * be rendered from one thread at a time (it keeps a scratch buffer). */
#ifndef API_TMPL_H
#define API_TMPL_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

#define API_TMPL_STRINGS_MAX 256 /* templated strings in one notification */
#define API_TMPL_ACTIONS_MAX 64  /* actions in one string */
#define API_TMPL_OUT_MAX 4096    /* one rendered string */

/* The device a template is rendered for: strings may be NULL (unset);
 * meta and l10n are objects of strings or NULL. Borrowed. */
struct api_tmpl_vars {
    const char *id;
    const char *user;
    json_t *meta;
    json_t *l10n;
};

struct api_tmpl;

/* Compiles src. use_meta 0 refuses .device.meta. NULL with err (HD_EINVAL,
 * naming path). */
struct api_tmpl *api_tmpl_compile(const char *src, size_t len, int use_meta,
                                  const char *path, struct hd_err *err);
void api_tmpl_free(struct api_tmpl *t);

/* Appends t rendered for v to out. -1 (err) when over max bytes. */
int api_tmpl_render(const struct api_tmpl *t, const struct api_tmpl_vars *v,
                    size_t max, struct hd_buf *out, struct hd_err *err);

/* A notification's templates. */
struct api_ntmpl;

/* Compiles every string of notification's parts (path: its name in the
 * params, "params.notification"). *out NULL when no string has an
 * action. 0 or -1 with err (HD_EINVAL naming the string's path, or
 * HD_ETOOBIG past API_TMPL_STRINGS_MAX). */
int api_ntmpl_compile(json_t *notification, int use_meta, const char *path,
                      struct api_ntmpl **out, struct hd_err *err);
void api_ntmpl_free(struct api_ntmpl *nt);

/* 1 when some template reads .device (so each device renders its own);
 * 0 when only .l10n (devices with the same translations share one). */
int api_ntmpl_uses_device(const struct api_ntmpl *nt);

/* part (a provider's part of the compiled notification) rendered for v:
 * a new value, or NULL with err when a string renders over
 * API_TMPL_OUT_MAX. */
json_t *api_ntmpl_render(struct api_ntmpl *nt, json_t *part,
                         const struct api_tmpl_vars *v, struct hd_err *err);

#endif
