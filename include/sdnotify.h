/*
 * sdnotify.h - tell systemd (Type=notify) that the hub is ready or stopping
 */
#ifndef DD_SDNOTIFY_H
#define DD_SDNOTIFY_H

/* sdnotify - send state ("READY=1") to $NOTIFY_SOCKET, if set. */
void sdnotify(const char *state);

#endif
