/* curl_dl.c: loads libcurl with dlopen the first time a push needs it (see curl_dl.h). */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "curl_dl.h"

#define LIBCURL_SONAME "libcurl.so.4"

struct cpd_curl cpd_curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load(void)
{
  static const struct {
    const char *name;
    size_t offset;
  } syms[] = {
#define SYM(field, name) { #name, offsetof(struct cpd_curl, field) }
    SYM(global_init, curl_global_init),     SYM(global_cleanup, curl_global_cleanup),
    SYM(easy_init, curl_easy_init),         SYM(easy_setopt, curl_easy_setopt),
    SYM(easy_perform, curl_easy_perform),   SYM(easy_getinfo, curl_easy_getinfo),
    SYM(easy_strerror, curl_easy_strerror), SYM(easy_escape, curl_easy_escape),
    SYM(easy_cleanup, curl_easy_cleanup),   SYM(free, curl_free),
    SYM(mime_init, curl_mime_init),         SYM(mime_addpart, curl_mime_addpart),
    SYM(mime_name, curl_mime_name),         SYM(mime_data, curl_mime_data),
    SYM(mime_type, curl_mime_type),         SYM(mime_free, curl_mime_free),
    SYM(slist_append, curl_slist_append),   SYM(slist_free_all, curl_slist_free_all),
#undef SYM
  };
  struct cpd_curl loaded;
  void *lib = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);

  if (!lib) {
    snprintf(load_error, sizeof(load_error), "pushing to Pyroscope needs libcurl (%s) and "
             "it could not be loaded: %s; install it (apt-get install libcurl4)", LIBCURL_SONAME,
             dlerror());
    return;
  }
  for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
    void *fn = dlsym(lib, syms[i].name);

    if (!fn) {
      snprintf(load_error, sizeof(load_error), "%s has no %s: it is too old for ceoprof "
               "(7.56 or later is needed)", LIBCURL_SONAME, syms[i].name);
      dlclose(lib);
      return;
    }
    memcpy((char *)&loaded + syms[i].offset, &fn, sizeof(fn));
  }
  cpd_curl = loaded;  /* published once, before pthread_once returns to any caller */
}

int cpd_curl_load(char *err, size_t errlen)
{
  pthread_once(&once, load);
  if (cpd_curl.easy_init)
    return 0;
  if (err && errlen)
    snprintf(err, errlen, "%s", load_error);
  return -ENOENT;
}
