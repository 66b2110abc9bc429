/*
 * A minimal pause container: sleep until told to stop, reap children (it is PID 1 of the pod sandbox).
 * As upstream's build/pause/linux/pause.c, "-v" prints the version and exits 0: kubeadm upgrade's CreateJob preflight
 * check runs the pause image with that argument as a Job and waits for it to complete.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define STR(x) #x
#define VERSION_STRING(x) STR(x)
#ifndef VERSION
#define VERSION HEAD
#endif

static void stop(int sig) { (void)sig; exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcasecmp(argv[i], "-v") == 0) {
      printf("pause.c %s\n", VERSION_STRING(VERSION));
      return 0;
    }
  }
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
