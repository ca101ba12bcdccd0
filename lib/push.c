/* push.c: one upload of a pprof file to Grafana Pyroscope with libcurl (ceoprof push and the daemon's queue). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "curl_dl.h"
#include "log.h"
#include "pprof_file.h"
#include "pprof_fold.h"
#include "push.h"
#include "push.pb-c.h"

#define TIMEOUT_S 30            /* one request, connect included */
#define ANSWER_MAX 300          /* of the server's answer, kept for the error message */

static size_t keep_answer(char *ptr, size_t size, size_t n, void *arg)
{
  char *body = arg;
  size_t have = strlen(body), len = size * n;

  if (have < ANSWER_MAX) {
    size_t take = len < ANSWER_MAX - have ? len : ANSWER_MAX - have;

    memcpy(body + have, ptr, take);
    body[have + take] = '\0';
  }
  return len;
}

static void sanitize(char *out, size_t size, const char *in, int dot_ok)
{
  size_t n = 0;

  for (const char *p = in && *in ? in : "unnamed"; *p && n + 1 < size; p++) {
    char c = *p;

    out[n++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c == '.' && dot_ok) || c == '_' || c == '-' ? c : '_';
  }
  out[n] = '\0';
}

void cpd_push_service(char *out, size_t size, const char *service)
{
  sanitize(out, size, service, 1);
}

static void hostname(char *out, size_t size)
{
  char host[64] = "unknown";

  gethostname(host, sizeof(host) - 1);
  sanitize(out, size, host, 1);
}

void cpd_push_name(char *out, size_t size, const char *service)
{
  char host[64];
  size_t n;

  cpd_push_service(out, size / 2, service);
  n = strlen(out);
  hostname(host, sizeof(host));
  snprintf(out + n, size - n, "{hostname=%s}", host);
}

/* The first line of FILE, or of the environment's VAR: into *OUT (NULL when neither). */
static int secret(const char *file, const char *var, const char *what, char **out, char *err,
                  size_t errlen)
{
  char line[4096];
  const char *v;

  *out = NULL;
  if (file) {
    FILE *f = fopen(file, "r");

    if (!f) {
      int e = errno;

      snprintf(err, errlen, "cannot read the %s file %s: %s", what, file, strerror(e));
      return -e;
    }
    if (!fgets(line, sizeof(line), f))
      line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) {
      snprintf(err, errlen, "the %s file %s is empty", what, file);
      return -EINVAL;
    }
    v = line;
  } else if (!(v = getenv(var)) || !*v) {
    return 0;
  }
  if (!(*out = strdup(v))) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  return 0;
}

int cpd_push_credentials(const char *basic_file, const char *token_file, char **basic,
                         char **token, char *err, size_t errlen)
{
  int rc = secret(basic_file, "CEOPROF_PYROSCOPE_BASIC_AUTH", "basic auth", basic, err, errlen);

  if (rc == 0 && *basic && !strchr(*basic, ':')) {
    snprintf(err, errlen, "basic auth needs USER:PASSWORD");
    rc = -EINVAL;
  }
  if (rc == 0)
    rc = secret(token_file, "CEOPROF_PYROSCOPE_TOKEN", "token", token, err, errlen);
  if (rc < 0) {
    free(*basic);
    *basic = NULL;
  }
  return rc;
}

/* The profile at PATH, its labels folded, packed and gzipped into *OUT. */
static int prepare(const char *path, uint32_t limit, uint8_t **out, size_t *len,
                   struct cpd_push_result *res, char *err, size_t errlen)
{
  Perftools__Profiles__Profile *p = cpc_pprof_load(path, err, errlen);
  struct cpc_fold_stats fs;
  uint8_t *raw = NULL, *gz = NULL;
  size_t rawlen;
  z_stream z;
  int rc;

  if (!p)
    return -EINVAL;
  if ((rc = cpc_pprof_fold(p, limit, &fs)) < 0) {
    snprintf(err, errlen, "out of memory folding the labels of %s", path);
    goto out;
  }
  res->labels_folded = fs.labels;
  res->values_folded = fs.values;
  rawlen = perftools__profiles__profile__get_packed_size(p);
  raw = malloc(rawlen ? rawlen : 1);
  memset(&z, 0, sizeof(z));
  if (!raw || deflateInit2(&z, 6, Z_DEFLATED, 15 + 16 /* gzip */, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    rc = -ENOMEM;
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  perftools__profiles__profile__pack(p, raw);
  gz = malloc(deflateBound(&z, rawlen) + 32);
  if (gz) {
    z.next_in = raw;
    z.avail_in = (uInt)rawlen;
    z.next_out = gz;
    z.avail_out = (uInt)(deflateBound(&z, rawlen) + 32);
    if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
      *out = gz;
      *len = z.total_out;
      gz = NULL;
    } else {
      rc = -EIO;
    }
  } else {
    rc = -ENOMEM;
  }
  deflateEnd(&z);
  if (rc < 0)
    snprintf(err, errlen, "could not compress %s", path);
out:
  free(gz);
  free(raw);
  perftools__profiles__profile__free_unpacked(p, NULL);
  return rc;
}

/* A random (version 4) UUID: the profile's ID in a push. */
static void uuid4(char out[37])
{
  uint8_t b[16];

  if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
    for (size_t i = 0; i < sizeof(b); i++)
      b[i] = (uint8_t)rand();
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
           b[13], b[14], b[15]);
}

/* The Push API's body: one series (__name__, service_name, hostname) with one profile. */
static uint8_t *push_body(const struct cpd_push_meta *m, uint8_t *gz, size_t gzlen, size_t *len)
{
  char service[256], host[64], id[37];
  Push__V1__LabelPair l[3], *lp[3] = { &l[0], &l[1], &l[2] };
  Push__V1__RawSample smp, *smpp = &smp;
  Push__V1__RawProfileSeries ser, *serp = &ser;
  Push__V1__PushRequest req;
  uint8_t *buf;

  cpd_push_service(service, sizeof(service), m->service);
  hostname(host, sizeof(host));
  uuid4(id);
  for (int i = 0; i < 3; i++)
    push__v1__label_pair__init(&l[i]);
  /* Pyroscope sorts a series' labels itself (pkg/validation/validate.go); sorted anyway. */
  l[0].name = "__name__";
  l[0].value = (char *)m->type;
  l[1].name = "hostname";
  l[1].value = host;
  l[2].name = "service_name";
  l[2].value = service;
  push__v1__raw_sample__init(&smp);
  smp.raw_profile.data = gz;
  smp.raw_profile.len = gzlen;
  smp.id = id;
  push__v1__raw_profile_series__init(&ser);
  ser.n_labels = 3;
  ser.labels = lp;
  ser.n_samples = 1;
  ser.samples = &smpp;
  push__v1__push_request__init(&req);
  req.n_series = 1;
  req.series = &serp;
  *len = push__v1__push_request__get_packed_size(&req);
  if ((buf = malloc(*len ? *len : 1)))
    push__v1__push_request__pack(&req, buf);
  return buf;
}

int cpd_push_profile(const struct cpd_push_opts *o, const char *path,
                     const struct cpd_push_meta *m, struct cpd_push_result *res, char *err,
                     size_t errlen)
{
  CURL *curl = NULL;
  curl_mime *mime = NULL;
  struct curl_slist *hdr = NULL;
  uint8_t *gz = NULL, *body = NULL;
  size_t gzlen = 0, bodylen = 0;
  char *ename = NULL, full[4096], line[4200], answer[ANSWER_MAX + 1] = "";
  const char *slash = o->url[0] && o->url[strlen(o->url) - 1] == '/' ? "" : "/";
  long code = 0;
  CURLcode cc;
  int rc;

  err[0] = '\0';
  memset(res, 0, sizeof(*res));
  if ((rc = cpd_curl_load(err, errlen)) < 0)
    return rc;
  if ((rc = prepare(path, o->label_limit, &gz, &gzlen, res, err, errlen)) < 0)
    return rc;
  if (!(curl = cpd_curl.easy_init())) {
    snprintf(err, errlen, "libcurl could not start");
    rc = -ENOMEM;
    goto out;
  }
  if (o->ingest) {
    char name[256];

    cpd_push_name(name, sizeof(name), m->service);
    ename = cpd_curl.easy_escape(curl, name, 0);
    if (!ename || snprintf(full, sizeof(full), "%s%singest?name=%s&from=%" PRIu64 "&until=%"
                           PRIu64 "&format=pprof&spyName=ceoprof&sampleRate=%d", o->url, slash,
                           ename, m->from_s, m->until_s, m->hz) >= (int)sizeof(full)) {
      rc = -ENAMETOOLONG;
      snprintf(err, errlen, "the Pyroscope URL is too long");
      goto out;
    }
    mime = cpd_curl.mime_init(curl);
    curl_mimepart *part = cpd_curl.mime_addpart(mime);

    cpd_curl.mime_name(part, "profile");
    cpd_curl.mime_data(part, (const char *)gz, gzlen);
    cpd_curl.mime_type(part, "application/octet-stream");
    cpd_curl.easy_setopt(curl, CURLOPT_MIMEPOST, mime);
  } else {
    if (snprintf(full, sizeof(full), "%s%spush.v1.PusherService/Push", o->url, slash) >=
        (int)sizeof(full) || !(body = push_body(m, gz, gzlen, &bodylen))) {
      rc = -ENOMEM;
      snprintf(err, errlen, "the Pyroscope URL is too long, or out of memory");
      goto out;
    }
    hdr = cpd_curl.slist_append(hdr, "Content-Type: application/proto");
    hdr = cpd_curl.slist_append(hdr, "Connect-Protocol-Version: 1");
    cpd_curl.easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    cpd_curl.easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodylen);
  }
  if (o->tenant) {
    snprintf(line, sizeof(line), "X-Scope-OrgID: %s", o->tenant);
    hdr = cpd_curl.slist_append(hdr, line);
  }
  if (o->token) {
    snprintf(line, sizeof(line), "Authorization: Bearer %s", o->token);
    hdr = cpd_curl.slist_append(hdr, line);
  } else if (o->basic_auth) {
    cpd_curl.easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    cpd_curl.easy_setopt(curl, CURLOPT_USERPWD, o->basic_auth);
  }
  cpd_curl.easy_setopt(curl, CURLOPT_URL, full);
  if (hdr)
    cpd_curl.easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
  cpd_curl.easy_setopt(curl, CURLOPT_TIMEOUT, (long)TIMEOUT_S);
  cpd_curl.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  cpd_curl.easy_setopt(curl, CURLOPT_USERAGENT, "ceoprof/" PACKAGE_VERSION);
  cpd_curl.easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_answer);
  cpd_curl.easy_setopt(curl, CURLOPT_WRITEDATA, answer);
  cc = cpd_curl.easy_perform(curl);
  if (cc != CURLE_OK) {
    rc = cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED
         : cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
         : cc == CURLE_COULDNT_RESOLVE_HOST ? -EHOSTUNREACH : -EIO;
    snprintf(err, errlen, "could not reach %s: %s", o->url, cpd_curl.easy_strerror(cc));
    goto out;
  }
  cpd_curl.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code > 299) {
    rc = code == 401 || code == 403 ? -EACCES : -EIO;
    for (char *c = answer; *c; c++)
      if (*c == '\n' || *c == '\r')
        *c = ' ';
    snprintf(err, errlen, "%s answered HTTP %ld%s%s%s", o->url, code, answer[0] ? ": " : "",
             answer, rc == -EACCES ? " (check --pyroscope-tenant and the credentials)" : "");
  }
out:
  if (curl) {
    cpd_curl.free(ename);
    cpd_curl.mime_free(mime);
    cpd_curl.easy_cleanup(curl);
  }
  if (hdr)
    cpd_curl.slist_free_all(hdr);
  free(body);
  free(gz);
  return rc;
}
