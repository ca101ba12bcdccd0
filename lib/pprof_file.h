/* pprof_file.h: reading a gzipped pprof file into protobuf-c's Profile, for report and push. */
#ifndef CPC_PPROF_FILE_H
#define CPC_PPROF_FILE_H

#include <stddef.h>

#include "profile.pb-c.h"

/*
 * The profile in PATH (gzipped or not), or NULL with the reason in ERR ("... is not a
 * pprof profile" for anything that does not decode as one). Free with
 * perftools__profiles__profile__free_unpacked(p, NULL).
 */
Perftools__Profiles__Profile *cpc_pprof_load(const char *path, char *err, size_t errlen);

#endif
