/* berthd as a docker-compatible client (`berthd ps`, `berthd run ...`), for hosts without
 * the docker CLI. main.c only dispatches here; the client lives in runtime-agent/client/. */
#ifndef BERTHD_CLIENT_H
#define BERTHD_CLIENT_H

#include <stdbool.h>

/* ARG (argv[1]) is a client command or one of the client's global options (-H ...). */
bool client_handles(const char *arg);
/* Run the client on berthd's ARGV (argv[0] is the program); returns the exit status. */
int client_main(int argc, char **argv);

#endif
