/* push.c: one upload of a pprof file to Grafana Pyroscope with libcurl (ceoprof push and the daemon's queue). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "curl_dl.h"
#include "log.h"
#include "push.h"

#define TIMEOUT_S 30            /* one request, connect included */

static size_t discard(char *ptr, size_t size, size_t n, void *arg)
{
  char *body = arg;            /* keeps the start of the answer for the error message */
  size_t have = strlen(body), len = size * n;

  if (have < 200) {
    size_t take = len < 200 - have ? len : 200 - have;

    memcpy(body + have, ptr, take);
    body[have + take] = '\0';
  }
  return len;
}

void cpd_push_name(char *out, size_t size, const char *service)
{
  char host[64] = "unknown";
  size_t n = 0;

  gethostname(host, sizeof(host) - 1);
  /* Pyroscope application names: letters, digits, '.', '_', '-'. */
  for (const char *p = service && *service ? service : "unnamed"; *p && n + 1 < size / 2; p++) {
    char c = *p;

    out[n++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-' ? c : '_';
  }
  out[n] = '\0';
  for (char *h = host; *h; h++)
    if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
          *h == '.' || *h == '-'))
      *h = '_';
  snprintf(out + n, size - n, "{hostname=%s}", host);
}

int cpd_push_file(const char *url, const char *path, const char *name, uint64_t from_s,
                  uint64_t until_s, int hz, char *err, size_t errlen)
{
  CURL *curl;
  curl_mime *mime = NULL;
  curl_mimepart *part;
  char *ename = NULL, full[4096], body[201] = "";
  long code = 0;
  CURLcode cc;
  int rc = 0;
  FILE *probe;

  err[0] = '\0';
  rc = cpd_curl_load(err, errlen);
  if (rc < 0)
    return rc;
  curl = cpd_curl.easy_init();
  if (!curl) {
    snprintf(err, errlen, "libcurl could not start");
    return -ENOMEM;
  }
  probe = fopen(path, "rb");
  if (!probe) {
    rc = -errno;
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    goto out;
  }
  fclose(probe);
  ename = cpd_curl.easy_escape(curl, name, 0);
  if (!ename || snprintf(full, sizeof(full),
                         "%s%singest?name=%s&from=%" PRIu64 "&until=%" PRIu64
                         "&format=pprof&spyName=ceoprof&sampleRate=%d",
                         url, url[0] && url[strlen(url) - 1] == '/' ? "" : "/", ename, from_s,
                         until_s, hz) >= (int)sizeof(full)) {
    rc = -ENAMETOOLONG;
    snprintf(err, errlen, "the Pyroscope URL is too long");
    goto out;
  }
  mime = cpd_curl.mime_init(curl);
  part = cpd_curl.mime_addpart(mime);
  cpd_curl.mime_name(part, "profile");
  cpd_curl.mime_filedata(part, path);
  cpd_curl.mime_type(part, "application/octet-stream");
  cpd_curl.easy_setopt(curl, CURLOPT_URL, full);
  cpd_curl.easy_setopt(curl, CURLOPT_MIMEPOST, mime);
  cpd_curl.easy_setopt(curl, CURLOPT_TIMEOUT, (long)TIMEOUT_S);
  cpd_curl.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  cpd_curl.easy_setopt(curl, CURLOPT_USERAGENT, "ceoprof/" PACKAGE_VERSION);
  cpd_curl.easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  cpd_curl.easy_setopt(curl, CURLOPT_WRITEDATA, body);
  cc = cpd_curl.easy_perform(curl);
  if (cc != CURLE_OK) {
    rc = cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED
         : cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
         : cc == CURLE_COULDNT_RESOLVE_HOST ? -EHOSTUNREACH : -EIO;
    snprintf(err, errlen, "could not reach %s: %s", url, cpd_curl.easy_strerror(cc));
    goto out;
  }
  cpd_curl.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code > 299) {
    rc = -EIO;
    for (char *c = body; *c; c++)
      if (*c == '\n' || *c == '\r')
        *c = ' ';
    snprintf(err, errlen, "%s answered HTTP %ld%s%s", url, code, body[0] ? ": " : "", body);
  }
out:
  cpd_curl.free(ename);
  cpd_curl.mime_free(mime);
  cpd_curl.easy_cleanup(curl);
  return rc;
}
