/* push.c: ceoprof push: one pprof file to Grafana Pyroscope. */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "opts.h"
#include "pprof_file.h"
#include "push.h"

/* Reads the profile's start, duration, rate and kind, checking that FILE is a pprof at all. */
static int read_meta(const char *path, uint64_t *from, uint64_t *until, int *hz,
                     const char **type, char *err, size_t errlen)
{
  Perftools__Profiles__Profile *p = cpc_pprof_load(path, err, errlen);

  if (!p)
    return -1;
  *from = (uint64_t)p->time_nanos / 1000000000u;
  *until = ((uint64_t)p->time_nanos + (uint64_t)p->duration_nanos + 999999999u) / 1000000000u;
  *hz = p->period > 0 ? (int)(1000000000 / p->period) : 0;
  *type = "process_cpu";
  for (size_t i = 0; i < p->n_sample_type; i++)
    if (p->sample_type[i]->type > 0 && (size_t)p->sample_type[i]->type < p->n_string_table &&
        strcmp(p->string_table[p->sample_type[i]->type], "off_cpu") == 0)
      *type = "off_cpu";
  perftools__profiles__profile__free_unpacked(p, NULL);
  return 0;
}

int cpc_push(int argc, char **argv)
{
  static const struct option opts[] = {
    { "url", required_argument, NULL, 'u' },
    { "name", required_argument, NULL, 'n' },
    { "from", required_argument, NULL, 'f' },
    { "until", required_argument, NULL, 't' },
    { "tenant", required_argument, NULL, 'T' },
    { "basic-auth-file", required_argument, NULL, 'B' },
    { "token-file", required_argument, NULL, 'K' },
    { "ingest", no_argument, NULL, 'I' },
    { "label-limit", required_argument, NULL, 'L' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct cpd_push_opts po = { .label_limit = CPD_PUSH_LABEL_LIMIT };
  struct cpd_push_meta m = { 0 };
  struct cpd_push_result res;
  const char *url = NULL, *name = NULL, *basic_file = NULL, *token_file = NULL;
  char *basic = NULL, *token = NULL;
  uint64_t f_opt = 0, u_opt = 0;
  char err[512];
  uint32_t u;
  int opt, rc;

  optind = 1;
  while ((opt = getopt_long(argc, argv, "u:n:f:t:h", opts, NULL)) != -1) {
    switch (opt) {
    case 'u':
      url = optarg;
      break;
    case 'n':
      name = optarg;
      break;
    case 'T':
      po.tenant = optarg;
      break;
    case 'B':
      basic_file = optarg;
      break;
    case 'K':
      token_file = optarg;
      break;
    case 'I':
      po.ingest = 1;
      break;
    case 'L':
      if (cp_parse_u32(optarg, 100000, &u) < 0 || u < 2) {
        fprintf(stderr, "ceoprof push: --label-limit needs a count of at least 2, not '%s'\n",
                optarg);
        return 2;
      }
      po.label_limit = u;
      break;
    case 'f':
    case 't':
      if (cp_parse_u64(optarg, opt == 'f' ? &f_opt : &u_opt) < 0) {
        fprintf(stderr, "ceoprof push: --%s needs Unix seconds, not '%s'\n",
                opt == 'f' ? "from" : "until", optarg);
        return 2;
      }
      break;
    case 'h':
      cpc_usage(stdout, "push");
      return 0;
    default:
      fputs("Try 'ceoprof push --help'.\n", stderr);
      return 2;
    }
  }
  if (optind != argc - 1 || !url || !name) {
    fprintf(stderr, "ceoprof push: give one FILE.pb.gz, --url and --name, e.g. 'ceoprof push "
                    "app.pb.gz --url http://localhost:4040 --name app'\n");
    return 2;
  }
  if (!cp_is_http_url(url)) {
    fprintf(stderr, "ceoprof push: --url needs an http:// or https:// URL, not '%s'\n", url);
    return 2;
  }
  if (strchr(name, '{')) {
    fprintf(stderr, "ceoprof push: --name is the service name alone, not '%s' (ceoprof adds "
                    "the hostname label)\n", name);
    return 2;
  }
  if (read_meta(argv[optind], &m.from_s, &m.until_s, &m.hz, &m.type, err, sizeof(err)) < 0) {
    fprintf(stderr, "ceoprof push: %s\n", err);
    return 1;
  }
  if (po.ingest && strcmp(m.type, "off_cpu") == 0) {
    fprintf(stderr, "ceoprof push: %s is an off-CPU profile: through /ingest Pyroscope would "
                    "add it to the CPU series (process_cpu); push it without --ingest\n",
            argv[optind]);
    return 1;
  }
  if (cpd_push_credentials(basic_file, token_file, &basic, &token, err, sizeof(err)) < 0) {
    fprintf(stderr, "ceoprof push: %s\n", err);
    return 1;
  }
  if (f_opt)
    m.from_s = f_opt;
  if (u_opt)
    m.until_s = u_opt;
  if (m.from_s == 0) {
    m.until_s = (uint64_t)time(NULL);
    m.from_s = m.until_s - 10;
  }
  if (m.until_s <= m.from_s)
    m.until_s = m.from_s + 1;
  m.service = name;
  po.url = url;
  po.basic_auth = basic;
  po.token = token;
  rc = cpd_push_profile(&po, argv[optind], &m, &res, err, sizeof(err));
  free(basic);
  free(token);
  if (rc < 0) {
    fprintf(stderr, "ceoprof push: %s\n", err);
    return 1;
  }
  printf("ceoprof: pushed %s to %s as %s of %s (%" PRIu64 "..%" PRIu64 ")\n", argv[optind],
         url, m.type, name, m.from_s, m.until_s);
  if (res.values_folded)
    printf("ceoprof: %" PRIu64 " label values pushed as \"other\": %u labels had more than %u "
           "values (the file keeps them all)\n", res.values_folded, res.labels_folded,
           po.label_limit);
  return 0;
}
