/*
 * curl_dl.h: libcurl, loaded with dlopen on first use. Linking it would load its ~30
 * dependencies (TLS, Kerberos, LDAP, ...) into every ceoprofd and ceoprof run, which costs
 * CPU at each start (bench/RESULTS.md); only Pyroscope pushes need it.
 */
#ifndef CEOPROF_CURL_DL_H
#define CEOPROF_CURL_DL_H

#include <stddef.h>

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

struct cpd_curl {
  __typeof__(curl_global_init) *global_init;
  __typeof__(curl_global_cleanup) *global_cleanup;
  __typeof__(curl_easy_init) *easy_init;
  __typeof__(curl_easy_setopt) *easy_setopt;
  __typeof__(curl_easy_perform) *easy_perform;
  __typeof__(curl_easy_getinfo) *easy_getinfo;
  __typeof__(curl_easy_strerror) *easy_strerror;
  __typeof__(curl_easy_escape) *easy_escape;
  __typeof__(curl_easy_cleanup) *easy_cleanup;
  __typeof__(curl_free) *free;
  __typeof__(curl_mime_init) *mime_init;
  __typeof__(curl_mime_addpart) *mime_addpart;
  __typeof__(curl_mime_name) *mime_name;
  __typeof__(curl_mime_data) *mime_data;
  __typeof__(curl_mime_type) *mime_type;
  __typeof__(curl_mime_free) *mime_free;
  __typeof__(curl_slist_append) *slist_append;
  __typeof__(curl_slist_free_all) *slist_free_all;
};

/* The loaded functions; valid after cpd_curl_load() returned 0. */
extern struct cpd_curl cpd_curl;

/* Loads libcurl once (thread-safe). 0, or -ENOENT with ERR saying what to install. */
int cpd_curl_load(char *err, size_t errlen);

#endif
