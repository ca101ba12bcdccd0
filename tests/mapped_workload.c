/*
 * mapped_workload.c: maps a shared library (dlopen LIB), says "ready", waits for a line on
 * stdin, then runs the library's user_hot_function for SECONDS. Between the two, the test
 * puts another file over LIB's path in this process's mount namespace.
 * Usage: mapped_workload LIB SECONDS
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
  int (*hot)(double);
  char line[16];
  void *lib;

  if (argc != 3)
    return 2;
  lib = dlopen(argv[1], RTLD_NOW);
  if (!lib || !(*(void **)&hot = dlsym(lib, "user_hot_function"))) {
    fprintf(stderr, "mapped_workload: %s\n", dlerror());
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  if (!fgets(line, sizeof(line), stdin))
    return 1;
  return hot(atof(argv[2])) < 0;
}
