/* service.c -- the one adapter to libsystemd: socket activation, sd_notify, the watchdog */
#include "service.h"

#include <stdlib.h>
#include <sys/socket.h>

#include "core/error.h"
#include "core/log.h"

#ifdef HK_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

const int hk_service_built = 1;

int hk_service_listen_fd(void)
{
    int n = sd_listen_fds(1);
    if (n < 0) {
        hk_log(HK_LOG_ERROR, "socket_activation_failed", "error=%d", n);
        return HK_EINVAL;
    }
    if (n == 0) return -1;
    if (n > 1) {
        hk_log(HK_LOG_ERROR, "socket_activation_failed",
               "reason=\"%d sockets handed over; hookd serves one\"", n);
        return HK_EINVAL;
    }
    if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
        hk_log(HK_LOG_ERROR, "socket_activation_failed",
               "reason=\"fd 3 is not a listening Unix stream socket\"");
        return HK_EINVAL;
    }
    return SD_LISTEN_FDS_START;
}

void hk_service_notify(const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0) hk_log(HK_LOG_WARN, "notify_failed", "state=%s error=%d", state, rc);
}

uint64_t hk_service_watchdog_usec(void)
{
    uint64_t usec = 0;
    return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

#else

const int hk_service_built = 0;

int hk_service_listen_fd(void)
{
    if (getenv("LISTEN_FDS"))
        hk_log(HK_LOG_WARN, "socket_activation_unavailable",
               "reason=\"built without libsystemd: the handed socket is ignored\"");
    return -1;
}

void hk_service_notify(const char *state)
{
    (void)state;
}

uint64_t hk_service_watchdog_usec(void)
{
    return 0;
}

#endif
