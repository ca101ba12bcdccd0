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

/* Reads the profile's start, duration and rate, checking that FILE is a pprof at all. */
static int read_meta(const char *path, uint64_t *from, uint64_t *until, int *hz, char *err,
                     size_t errlen)
{
  Perftools__Profiles__Profile *p = cpc_pprof_load(path, err, errlen);

  if (!p)
    return -1;
  *from = (uint64_t)p->time_nanos / 1000000000u;
  *until = ((uint64_t)p->time_nanos + (uint64_t)p->duration_nanos + 999999999u) / 1000000000u;
  *hz = p->period > 0 ? (int)(1000000000 / p->period) : 0;
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
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *url = NULL, *name = NULL;
  uint64_t from = 0, until = 0, f_opt = 0, u_opt = 0;
  char err[512], app[256];
  int opt, hz = 0, rc;

  optind = 1;
  while ((opt = getopt_long(argc, argv, "u:n:f:t:h", opts, NULL)) != -1) {
    switch (opt) {
    case 'u':
      url = optarg;
      break;
    case 'n':
      name = optarg;
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
  if (read_meta(argv[optind], &from, &until, &hz, err, sizeof(err)) < 0) {
    fprintf(stderr, "ceoprof push: %s\n", err);
    return 1;
  }
  if (f_opt)
    from = f_opt;
  if (u_opt)
    until = u_opt;
  if (from == 0) {
    until = (uint64_t)time(NULL);
    from = until - 10;
  }
  if (until <= from)
    until = from + 1;
  /* A name with its own labels is used as given; a bare one gets the host label. */
  if (strchr(name, '{'))
    snprintf(app, sizeof(app), "%s", name);
  else
    cpd_push_name(app, sizeof(app), name);
  rc = cpd_push_file(url, argv[optind], app, from, until, hz, err, sizeof(err));
  if (rc < 0) {
    fprintf(stderr, "ceoprof push: %s\n", err);
    return 1;
  }
  printf("ceoprof: pushed %s to %s as %s (%" PRIu64 "..%" PRIu64 ")\n", argv[optind], url, app,
         from, until);
  return 0;
}
