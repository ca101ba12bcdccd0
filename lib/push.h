/*
 * push.h: uploading a pprof file to Grafana Pyroscope with libcurl, the client ceoprof push
 * and the daemon's upload queue share: the Push API (POST /push.v1.PusherService/Push,
 * Connect protocol) by default, the older /ingest when asked; a tenant, basic or bearer
 * auth; TLS with the system's CAs; label cardinality folded first.
 */
#ifndef CPD_PUSH_H
#define CPD_PUSH_H

#include <stddef.h>
#include <stdint.h>

/* Where and how to push. The strings are the caller's. */
struct cpd_push_opts {
  const char *url;          /* http(s)://host:port of Pyroscope */
  const char *tenant;       /* X-Scope-OrgID, or NULL */
  const char *basic_auth;   /* "user:password", or NULL */
  const char *token;        /* bearer token, or NULL */
  int ingest;               /* the older POST /ingest instead of the Push API */
  uint32_t label_limit;     /* distinct values kept per string label (others: "other") */
};

#define CPD_PUSH_LABEL_LIMIT 32

/* One profile to push. */
struct cpd_push_meta {
  const char *service;      /* service_name (Push API) / the application name (/ingest) */
  const char *type;         /* __name__: "process_cpu" or "off_cpu" */
  uint64_t from_s, until_s; /* the time it covers, Unix seconds (/ingest) */
  int hz;                   /* its sampling rate (/ingest) */
};

/* What a push folded (see pprof_fold.h). */
struct cpd_push_result {
  uint32_t labels_folded;
  uint64_t values_folded;
};

/*
 * Pushes the pprof at PATH. 0, or -errno with the reason in ERR (-EIO: the server refused it,
 * with its answer; -ECONNREFUSED and friends: it could not be reached; -EACCES: 401/403).
 */
int cpd_push_profile(const struct cpd_push_opts *o, const char *path,
                     const struct cpd_push_meta *m, struct cpd_push_result *res, char *err,
                     size_t errlen);

/*
 * Reads the credentials: basic auth ("user:password") from BASIC_FILE or else the
 * environment's CEOPROF_PYROSCOPE_BASIC_AUTH, a bearer token from TOKEN_FILE or else
 * CEOPROF_PYROSCOPE_TOKEN (never from the command line, where ps shows it). The strings are
 * allocated into *BASIC and *TOKEN (NULL when none). 0, or -errno with why in ERR.
 */
int cpd_push_credentials(const char *basic_file, const char *token_file, char **basic,
                         char **token, char *err, size_t errlen);

/* SERVICE with what Pyroscope allows in a name (letters, digits, '.', '_', '-'). */
void cpd_push_service(char *out, size_t size, const char *service);
/* The /ingest application name for SERVICE: "SERVICE{hostname=HOST}", sanitized. */
void cpd_push_name(char *out, size_t size, const char *service);

#endif
