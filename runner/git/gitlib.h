/*
 * libgit2 set up for the process: once, at the first use, and never shut
 * down, without the system's CA certificates.
 */
#ifndef RUNNER_GITLIB_H
#define RUNNER_GITLIB_H

/*
 * Set libgit2 up, the first time only; later calls cost nothing. Its
 * set-up parses the system's CA bundle (libgit2 built with mbedTLS, as
 * Debian's), for HTTPS remotes this program never opens: that is left
 * out (gitlib.c says how), and libgit2 keeps no certificate.
 */
void gitlib_init(void);

#endif
