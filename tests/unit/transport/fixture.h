/* fixture.h -- the transport under test: an hk_server on a fresh loop, handlers chosen by :path */
#ifndef HK_TEST_FIXTURE_H
#define HK_TEST_FIXTURE_H

#include <stdint.h>
#include <uv.h>

#include "transport/call.h"
#include "transport/server.h"

/* What the handlers saw; zeroed by fixture_init. The handler (on_call) picks
 * by :path:
 *   /t/Echo          replies with the request message
 *   /t/Fail          INVALID_ARGUMENT with a message that needs percent-encoding
 *   /t/Together      held until together_want calls have arrived, then all echoed
 *   /t/Never         never answered; a cancel callback fails it (cancels++)
 *   /t/Held          kept in held, the test answers it
 *   /t/Gather        kept in gathered[] (up to 16), the test answers them
 *   /t/HeldCounted   kept in held with a cancel callback that only counts
 *   anything else    UNIMPLEMENTED
 * Every call's peer must be this process and ctx must be &T, or the test fails. */
typedef struct {
    int calls;              /* on_call ran */
    int cancels;            /* a cancel callback ran */
    int cancelled_flag;     /* hk_call_cancelled() inside the cancel callback */
    int stopped;            /* hk_server_stop's done ran */
    uint64_t max_in_flight; /* hk_server_stats' calls, the most seen inside on_call */
    hk_server_t *server;
    hk_call_t *held;
    hk_call_t *gathered[16]; /* /t/Gather calls, answered together */
    int n_gathered;
    hk_call_t *together[256]; /* /t/Together calls, waiting for the rest */
    int n_together, together_want;
    int in_on_cancel; /* inside hk_call_on_cancel */
} fixture_calls_t;

extern fixture_calls_t T;

typedef struct {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps UV_RUN_ONCE from sleeping forever in run_until */
    char path[256];
    hk_server_opts_t opts;
} fixture_t;

/* A fresh loop, T zeroed, and options for a server on a socket in this
 * test's temporary directory (the tests may change f->opts before
 * fixture_start). SIGPIPE is ignored, as in hookd's main: a peer that hung
 * up is an error return, not a death. */
void fixture_init(fixture_t *f);

/* hk_server_start with f->opts; the server goes in T.server. */
int fixture_start(fixture_t *f);

/* Runs the loop until *flag >= want or 5 s pass; returns 1 when reached. */
int run_until(fixture_t *f, const int *flag, int want);

/* Stops the server (if running), closes every handle, and checks the loop
 * closes clean: nothing leaked a handle. Returns 1 when it did. */
int fixture_done(fixture_t *f);

/* hk_server_stop's done for the tests: counts T.stopped, clears T.server. */
void on_stopped(void *arg);

/* A timer callback that does nothing (for f->tick). */
void on_tick(uv_timer_t *t);

/* A cancel callback that counts T.cancels (and fails the test when it runs
 * inside hk_call_on_cancel). */
void on_cancel_count(hk_call_t *call, void *arg);

#endif
