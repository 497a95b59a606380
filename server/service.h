/* service.h -- hookd under a service manager (systemd): socket activation, readiness, watchdog */
#ifndef HK_SERVICE_H
#define HK_SERVICE_H

#include <stdint.h>

/* 1 when hookd was built with libsystemd (HK_SYSTEMD), else 0: then every
 * function below acts as if no service manager were there. */
extern const int hk_service_built;

/* The socket a service manager handed over (LISTEN_FDS/LISTEN_PID, the
 * sd_listen_fds protocol: fd 3), or -1 when none was. The variables are
 * unset, so children do not inherit them. Returns the fd (close-on-exec,
 * a listening AF_UNIX stream socket), -1 when not activated, or HK_EINVAL
 * (logged) when more than one fd or a socket of another kind came. */
int hk_service_listen_fd(void);

/* Sends one sd_notify state line ("READY=1", "STOPPING=1", "WATCHDOG=1",
 * "RELOADING=1") to NOTIFY_SOCKET; nothing when it is unset. */
void hk_service_notify(const char *state);

/* The watchdog interval the manager asked for (WATCHDOG_USEC, for this
 * pid), in microseconds; 0 when none. */
uint64_t hk_service_watchdog_usec(void);

#endif
