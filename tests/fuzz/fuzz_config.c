/* fuzz_config.c -- the config file parser: the input as a config file, loaded over the defaults */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "deliver/policy.h"
#include "fuzz.h"

static char path[300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(path, sizeof path, "%s/hookd.conf", hk_fuzz_init());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_config_t cfg;
    char err[512] = "";

    hk_fuzz_write_file(path, data, size);
    if (hk_config_defaults(&cfg) != 0) abort();
    int rc = hk_config_load(&cfg, path, err, sizeof err);
    if (rc != 0 && rc != HK_EINVAL) abort(); /* the file is there: only its text can be wrong */
    if (rc != 0 && strncmp(err, "line ", 5) != 0) abort(); /* the error names its line */
    if (rc == 0) {
        /* What hookd does next with a loaded config: the outbound policy
         * from its lists, whose entries the loader checked. */
        hk_policy_t policy;
        if (hk_policy_load(&policy, cfg.allow_nets, cfg.n_allow_nets, cfg.deny_nets,
                           cfg.n_deny_nets, err, sizeof err) != 0)
            abort();
        gid_t groups[2] = {12345, 54321};
        (void)hk_config_role(&cfg, 12345, 12345, groups, 2);
    }
    hk_config_free(&cfg);
    return 0;
}
