/* server_io.h -- server_io.c's libmicrohttpd callbacks, which server.c
 * hands to the daemon (cls is the server). */
#ifndef HD_HTTP_SERVER_IO_H
#define HD_HTTP_SERVER_IO_H

#include "http/server_private.h"

enum MHD_Result hd_http_ahc_(void *cls, struct MHD_Connection *conn,
                             const char *url, const char *method,
                             const char *version, const char *upload_data,
                             size_t *upload_data_size, void **con_cls);
void hd_http_completed_(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe);
void hd_http_notify_conn_(void *cls, struct MHD_Connection *conn, void **ctx,
                          enum MHD_ConnectionNotificationCode code);

#endif
